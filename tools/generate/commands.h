/*
 * commands.h - the three things sparq-generate does.
 */
#ifndef SPARQ_GENERATE_COMMANDS_H
#define SPARQ_GENERATE_COMMANDS_H

#include "options.h"

int command_generate(const options *opt);
int command_perplexity(const options *opt);
int command_compare(const options *opt);

#endif
