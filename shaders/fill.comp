#version 460
// fill: writes out[i] = pc.r + i for i < pc.span. The context runs it once
// at creation as a self-test of the whole path: embedded SPIR-V, pipeline,
// buffer device addresses, submission and read-back.
#include "common.glsl"

void main()
{
    const uint i = gl_GlobalInvocationID.x;
    if (i < pc.span)
        UintRef(pc.out_addr).v[i] = pc.r + i;
}
