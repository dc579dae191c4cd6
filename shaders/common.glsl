// Shared by every sparq-vk kernel: the push-constant block, typed views of
// device memory through buffer device addresses, f16/f32 storage access, and
// subgroup-size-agnostic workgroup reductions and scans.
//
// Why buffer device addresses instead of descriptors: the caches outgrow
// maxStorageBufferRange (128 MiB on lavapipe, 4 GiB on NVIDIA), addresses
// are 64-bit and reach any byte of an allocation, and the host records no
// descriptor updates on the hot path.
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_buffer_reference2 : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require

// Specialization constants, set per pipeline by the backend.
layout(local_size_x_id = 0) in;
// WG_SIZE_N: the default for kernels always run at one size, so that the
// value the backend sets is also the one the shader was compiled with (on
// an H200 that made a kernel 1.35x faster: docs/NOTES.md, entry 22). No
// variant sets it now: attend, run at 128, was no faster compiled with it.
#ifndef WG_SIZE_N
#define WG_SIZE_N 256
#endif
layout(constant_id = 0) const uint WG_SIZE = WG_SIZE_N;
layout(constant_id = 1) const uint HEAD_DIM = 128;
// Query heads per KV head. Kernels that keep per-head values in registers
// are also built with GROUP_N fixed at compile time (1, 2, 4, 8, 16): arrays
// sized by a specialization constant can end up in slow local memory.
#ifdef GROUP_N
const uint GROUP = GROUP_N;
#else
layout(constant_id = 2) const uint GROUP = 1;
#endif
layout(constant_id = 3) const uint PARAM = 1;   // kernel-specific; always set by the backend (1: a valid array length)

// Must match struct sq_push in backend/sq_push.h (static-asserted there).
layout(push_constant, std430) uniform Push {
    uint64_t k_addr;       // unused: slot addresses come with each Entry
    uint64_t kt_addr;      // unused
    uint64_t v_addr;       // unused
    uint64_t vsum_addr;    // Vsum [slot][kv][dh] float
    uint64_t in_addr;      // kernel input (q, new K/V, ...)
    uint64_t out_addr;     // kernel output
    uint64_t step_addr;    // per-entry parameters: sq_entry[]
    uint64_t scratch_addr; // per-call scratch
    uint capacity;         // allocated positions per (slot, kv head): a multiple of 64
    uint n_kv_heads;
    uint n_entries;
    uint r;
    float scale;
    uint flags;
    uint n_chunks;         // kernel-specific grid extent
    uint span;             // kernel-specific length
} pc;

const uint FLAG_NO_REALLOC = 1u;
const uint FLAG_VSUM_ADD = 2u; // kv_vsum: add new rows instead of recomputing
#define NEG_INF uintBitsToFloat(0xff800000u)

// Per batch entry (one slot of an attend, or one slot of an append).
// Must match struct sq_entry in backend/sq_push.h. The slot's arrays may
// live in different allocations (a cache is split into segments of whole
// slots when it outgrows one allocation), so each entry carries the
// addresses of its slot's K, Kt and V blocks.
struct Entry {
    uint slot;
    uint len;     // positions valid (attend), or length before the append
    uint k;       // SparQ: positions selected, min(k, len)
    uint l;       // SparQ: forced local window, min(l, len), <= k
    uint64_t k_base;  // K  [kv][cap][dh] of this slot
    uint64_t kt_base; // Kt [kv][dh][cap]
    uint64_t v_base;  // V  [kv][cap][dh]
    uint64_t pad;
};
layout(buffer_reference, std430, buffer_reference_align = 16) readonly buffer EntryRef { Entry e[]; };

// Addresses and sizes of one attend call's device scratch, at pc.step_addr;
// the entries follow at pc.step_addr + CALL_INFO_BYTES. Must match struct
// sq_call_info in backend/sq_push.h.
struct CallInfo {
    uint64_t q;        // float [entry][n_heads][dh]
    uint64_t z;        // float [entry][kv][GROUP][z_stride]: approximate logits
    uint64_t stats;    // vec2  [entry][kv][score_chunks][GROUP]: chunk max, sum exp
    uint64_t keys;     // uint  [entry][kv][z_stride]: ranking keys
    uint64_t sel;      // uint  [entry][kv][k_stride]: selected positions
    uint64_t alpha;    // float [entry][kv][GROUP]
    uint64_t part_ml;  // vec2  [entry][kv][splits][GROUP]: split max, sum
    uint64_t part_acc; // vec4  [entry][kv][splits][GROUP][dh/4]
    uint64_t out_;     // float [entry][n_heads][dh]
    uint64_t hist;     // uint: sparq_rank's radix histograms (see sparq_rank.comp)
    uint64_t counts;   // uint  [entry][kv][rank chunk][2048]: sparq_rank's tables (see there)
    uint64_t alpha_part; // float [entry][kv][score_chunks][GROUP]
    uint z_stride;
    uint k_stride;
    uint score_chunks;
    uint splits;
    uint split_len;    // positions per split: a multiple of the attend tile
    uint pad0, pad1, pad2;
};
const uint CALL_INFO_BYTES = 128;
layout(buffer_reference, std430, buffer_reference_align = 16) readonly buffer CallRef { CallInfo c; };

Entry get_entry(uint e) { return EntryRef(pc.step_addr + CALL_INFO_BYTES).e[e]; }
CallInfo get_call() { return CallRef(pc.step_addr).c; }

layout(buffer_reference, std430, buffer_reference_align = 4) buffer FloatRef { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer UintRef { uint v[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) buffer Vec4Ref { vec4 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 8) buffer Uvec2Ref { uvec2 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 8) buffer Vec2Ref { vec2 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) buffer Uvec4Ref { uvec4 v[]; };

// ---- storage type -------------------------------------------------------
// f16 storage is read and written as packed pairs with (un)packHalf2x16, so
// no 16-bit storage or arithmetic feature is required of the device.
#ifdef STORAGE_F16
const uint ELEM_BYTES = 2;
vec4 load4(uint64_t base, uint i)            // i: element index, multiple of 4
{
    uvec2 p = Uvec2Ref(base).v[i >> 2];
    return vec4(unpackHalf2x16(p.x), unpackHalf2x16(p.y));
}
void store4(uint64_t base, uint i, vec4 x)
{
    Uvec2Ref(base).v[i >> 2] = uvec2(packHalf2x16(x.xy), packHalf2x16(x.zw));
}
float round_storage(float x) { return unpackHalf2x16(packHalf2x16(vec2(x, 0.0))).x; }
// 8 elements with one 16-byte load; i is a multiple of 8
void load8(uint64_t base, uint i, out vec4 lo, out vec4 hi)
{
    uvec4 p = Uvec4Ref(base).v[i >> 3];
    lo = vec4(unpackHalf2x16(p.x), unpackHalf2x16(p.y));
    hi = vec4(unpackHalf2x16(p.z), unpackHalf2x16(p.w));
}
// 8 elements as stored, unpacked only where used (raw8_unpack): a kernel
// that keeps many rows' loads in flight holds them in half the registers.
struct Raw8 {
    uvec4 p;
};
Raw8 load_raw8(uint64_t base, uint i) { return Raw8(Uvec4Ref(base).v[i >> 3]); }
void raw8_unpack(Raw8 r, out vec4 lo, out vec4 hi)
{
    lo = vec4(unpackHalf2x16(r.p.x), unpackHalf2x16(r.p.y));
    hi = vec4(unpackHalf2x16(r.p.z), unpackHalf2x16(r.p.w));
}
#else
const uint ELEM_BYTES = 4;
vec4 load4(uint64_t base, uint i) { return Vec4Ref(base).v[i >> 2]; }
void store4(uint64_t base, uint i, vec4 x) { Vec4Ref(base).v[i >> 2] = x; }
float round_storage(float x) { return x; }
void load8(uint64_t base, uint i, out vec4 lo, out vec4 hi)
{
    lo = Vec4Ref(base).v[i >> 2];
    hi = Vec4Ref(base).v[(i >> 2) + 1];
}
struct Raw8 {
    vec4 lo, hi;
};
Raw8 load_raw8(uint64_t base, uint i)
{
    Raw8 r;
    load8(base, i, r.lo, r.hi);
    return r;
}
void raw8_unpack(Raw8 r, out vec4 lo, out vec4 hi)
{
    lo = r.lo;
    hi = r.hi;
}
#endif

// Byte address of the KV-head block (cap * dh elements) of a slot's array.
uint64_t head_block(uint64_t slot_base, uint kv)
{
    return slot_base + uint64_t(kv) * pc.capacity * HEAD_DIM * ELEM_BYTES;
}

// ---- workgroup reductions and scans (any subgroup size) -----------------
shared float red_f[WG_SIZE];
shared uint red_u[WG_SIZE];
shared uint red_total;

float wg_max(float x)
{
    float s = subgroupMax(x);
    if (subgroupElect())
        red_f[gl_SubgroupID] = s;
    barrier();
    float m = red_f[0];
    for (uint i = 1; i < gl_NumSubgroups; i++)
        m = max(m, red_f[i]);
    barrier();
    return m;
}

float wg_sum(float x)
{
    float s = subgroupAdd(x);
    if (subgroupElect())
        red_f[gl_SubgroupID] = s;
    barrier();
    float t = 0.0;
    for (uint i = 0; i < gl_NumSubgroups; i++)
        t += red_f[i];
    barrier();
    return t;
}

// This invocation's index in subgroup order (subgroup, then lane): the
// order of wg_exclusive_scan and of every subgroup scan. Vulkan does not tie
// it to gl_LocalInvocationID (on an NVIDIA H200, sparq_score_select run at
// 512 invocations per workgroup placed positions out of order until it
// numbered them this way), so the kernels whose results depend on the order
// (the selections) number their positions and bins by this. A
// permutation of 0..WG_SIZE-1 when subgroups are full, as they are for
// these workgroup sizes on the devices we know; gl_LocalInvocationIndex
// where they are not.
uint wg_ordered_index()
{
    return gl_NumSubgroups * gl_SubgroupSize == WG_SIZE ? gl_SubgroupID * gl_SubgroupSize + gl_SubgroupInvocationID
                                                        : gl_LocalInvocationIndex;
}

// Exclusive prefix sum of v over the workgroup in wg_ordered_index order;
// `total` gets the sum of all. Contains barriers: call from uniform control flow.
uint wg_exclusive_scan(uint v, out uint total)
{
    uint ex = subgroupExclusiveAdd(v);
    if (gl_SubgroupInvocationID == gl_SubgroupSize - 1)
        red_u[gl_SubgroupID] = ex + v;
    barrier();
    if (gl_SubgroupID == 0) {
        uint running = 0;
        for (uint base = 0; base < gl_NumSubgroups; base += gl_SubgroupSize) {
            uint i = base + gl_SubgroupInvocationID;
            uint t = i < gl_NumSubgroups ? red_u[i] : 0u;
            uint e = subgroupExclusiveAdd(t) + running;
            running += subgroupAdd(t);
            if (i < gl_NumSubgroups)
                red_u[i] = e;
        }
        if (subgroupElect())
            red_total = running;
    }
    barrier();
    uint result = ex + red_u[gl_SubgroupID];
    total = red_total;
    barrier();
    return result;
}
