#version 460
// read_bandwidth: the plain streaming-read kernel sparq-bench compares the
// attention kernels with. Each thread reads pc.span vec4s, grid-strided so
// every load instruction of a subgroup is contiguous, and writes one value
// only when the sum is impossible, so the reads cannot be optimised away.
#include "common.glsl"

void main()
{
    const uint n_threads = gl_NumWorkGroups.x * WG_SIZE;
    const uint id = gl_WorkGroupID.x * WG_SIZE + gl_LocalInvocationID.x;
    vec4 s = vec4(0.0);
    for (uint i = 0; i < pc.span; i++)
        s += Vec4Ref(pc.in_addr + (uint64_t(i) * n_threads + id) * 16).v[0];
    if (s.x == 1234.5678 && s.y == -8765.4321)
        FloatRef(pc.out_addr).v[0] = s.z + s.w;
}
