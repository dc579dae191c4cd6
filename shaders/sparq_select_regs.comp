#version 460
// sparq_select_regs: SparQ steps 3-4 from sparq_score's logits, for slots
// longer than sparq_score_select takes, one workgroup per (entry, KV head),
// in one dispatch. Each invocation reads the logits of its RUNS runs of 8
// positions (run b of invocation i, in subgroup order, at
// 8 * (i + WG_SIZE * b): two 16-byte loads per head and run), turns them
// into ranking keys held in registers, and register_select.glsl's search
// and compaction choose and write the positions: no keys in shared memory
// (sparq_select_small), no global histograms, atomics or further dispatches
// (sparq_rank). The backend runs it with WG_SIZE = 512 for slots of at most
// 8 * WG_SIZE * RUNS positions.
// Grid: x = 1, y = KV head, z = entry. It takes the slots in
// (pc.span, pc.n_chunks] and leaves the others to the other kernels.
#include "common.glsl"
#include "ranking_key.glsl"
#include "logit_norm.glsl"

#ifndef RUNS_N
#error "sparq_select_regs needs RUNS_N (runs of 8 positions per invocation)"
#endif
const uint RUNS = RUNS_N;
const uint CHUNK = 1024; // sparq_score's chunk: alpha_part's granularity
#include "register_select.glsl"

void main()
{
    const uint kv = gl_WorkGroupID.y, e = gl_WorkGroupID.z;
    const uint inv = wg_ordered_index();
    const Entry ent = get_entry(e);
    const CallInfo call = get_call();
    const uint S = ent.len, n_cand = S - ent.l, need = ent.k - ent.l;
    if (S > pc.n_chunks || S <= pc.span || S > 8 * RUNS * WG_SIZE)
        return; // uniform: another kernel's slot (the last test only guards the registers)
    const uint head = e * pc.n_kv_heads + kv;
    const uint n_chunks = (S + CHUNK - 1) / CHUNK;
    const uint64_t zb = call.z + uint64_t(head) * GROUP * call.z_stride * 4;
    load_head_norm(call.stats + uint64_t(head) * call.score_chunks * GROUP * 8, n_chunks);

    // Ranking keys of this invocation's runs. z rows are z_stride (a
    // multiple of CHUNK) apart, so a run is two aligned vec4 per head; a run
    // that starts before S lies inside the row, and positions past S get no
    // key.
    uint key[RUNS][8];
    [[unroll]] for (uint b = 0; b < RUNS; b++) {
        const uint t0 = run_position(inv, b, 0);
        vec4 rho[2] = {vec4(0.0), vec4(0.0)};
        if (t0 < S)
            [[unroll]] for (uint j = 0; j < GROUP; j++)
                [[unroll]] for (uint h = 0; h < 2; h++) {
                    const vec4 zj = Vec4Ref(zb).v[(j * call.z_stride + t0) / 4 + h];
                    rho[h] += exp(zj - head_norm[j].x) * head_norm[j].y;
                }
        [[unroll]] for (uint u = 0; u < 8; u++)
            key[b][u] = t0 + u < S ? rho_key(rho[u >> 2][u & 3]) : 0u;
    }

    uint take_mask[RUNS];
    select_in_registers(key, inv, S, n_cand, need, call.sel + uint64_t(head) * call.k_stride * 4, call.k_stride,
                        take_mask);

    // alpha_j over the positions taken (their p_j read again, from L2).
    float alpha_acc[GROUP];
    [[unroll]] for (uint j = 0; j < GROUP; j++)
        alpha_acc[j] = 0.0;
    [[unroll]] for (uint b = 0; b < RUNS; b++)
        [[unroll]] for (uint u = 0; u < 8; u++)
            if ((take_mask[b] & (1u << u)) != 0) {
                if (GROUP == 1) // p_0 is the key's own value
                    alpha_acc[0] += uintBitsToFloat(key[b][u]);
                else
                    [[unroll]] for (uint j = 0; j < GROUP; j++)
                        alpha_acc[j] += approx_p(zb, call.z_stride, j, run_position(inv, b, u));
            }
    write_alpha_whole(alpha_acc, call.alpha_part + uint64_t(head) * call.score_chunks * GROUP * 4, n_chunks);
}
