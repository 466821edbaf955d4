// F32 matrix products in the "NT" form used by every linear layer: C = A · Wᵀ (+ bias).
// A holds m activation rows of length k, W holds n weight rows of length k (GGUF/PyTorch layout).
#pragma once
#include <cstdint>

namespace squish::kernels {

// Single-threaded C[i, j] = sum_t A[i, t] * W[j, t] (+ bias[j]) for i < m, j < n, with row strides
// lda, ldw, ldc (in floats). Uses the best kernel the CPU supports (AVX-512, AVX2+FMA or scalar).
void gemm_nt(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* W,
             int64_t ldw, float* C, int64_t ldc, const float* bias = nullptr);

// Multi-threaded version of gemm_nt for contiguous operands (lda = ldw = k, ldc = n): output
// columns (weight rows) are split across squish::parallel_for's threads.
void matmul(int64_t m, int64_t n, int64_t k, const float* A, const float* W, float* C,
            const float* bias = nullptr);

// The portable kernel (blocked, no intrinsics).
void gemm_nt_scalar(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* W,
                    int64_t ldw, float* C, int64_t ldc, const float* bias);

// The AVX-512 kernel (call only when cpu_has_avx512()).
void gemm_nt_avx512(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* W,
                    int64_t ldw, float* C, int64_t ldc, const float* bias);

// The AVX2+FMA kernel (call only when cpu_has_avx2()).
void gemm_nt_avx2(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* W,
                  int64_t ldw, float* C, int64_t ldc, const float* bias);

// The obvious triple loop with double accumulation: the reference the kernels are tested against.
void gemm_nt_reference(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
                       const float* W, int64_t ldw, float* C, int64_t ldc, const float* bias);

// Whether the running CPU has AVX-512F (and neither SQUISH_NO_AVX512 nor SQUISH_ISA=avx2|scalar
// is set in the environment).
bool cpu_has_avx512();
// Whether cpu_has_avx512() and the CPU has AVX512-BF16 (vdpbf16ps, vcvtneps2bf16).
bool cpu_has_avx512_bf16();
// Whether cpu_has_avx512_bf16() and the CPU has AMX (TILE, BF16, INT8) and the kernel granted this
// process the tile state (SQUISH_AMX=0 turns AMX off, leaving the AVX-512 kernels).
bool cpu_has_amx();
// Whether the running CPU has AVX2 and FMA (and SQUISH_ISA=scalar is not set).
bool cpu_has_avx2();

}  // namespace squish::kernels
