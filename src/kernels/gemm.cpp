// Dispatch, threading and the portable/reference versions of the F32 NT matrix product.
#include "squish/kernels/gemm.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "squish/common/parallel.h"

namespace squish::kernels {

namespace {

// Whether SQUISH_ISA (scalar|avx2|avx512, as for the quantized kernels) caps the ISA below `level`.
bool isa_capped_below(const char* level) {
  const char* isa = std::getenv("SQUISH_ISA");
  if (!isa || !*isa) return false;
  if (std::strcmp(isa, "scalar") == 0) return true;
  return std::strcmp(isa, "avx2") == 0 && std::strcmp(level, "avx512") == 0;
}

}  // namespace

bool cpu_has_avx512() {
  static const bool has = [] {
    const char* off = std::getenv("SQUISH_NO_AVX512");
    if (off && *off && *off != '0') return false;
    if (isa_capped_below("avx512")) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return has;
}

bool cpu_has_avx512_bf16() {
  static const bool has = [] {
    if (!cpu_has_avx512()) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") != 0;
  }();
  return has;
}

bool cpu_has_amx() {
  static const bool has = [] {
    const char* off = std::getenv("SQUISH_AMX");
    if (off && *off == '0') return false;
    if (!cpu_has_avx512_bf16()) return false;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    constexpr unsigned kBf16 = 1u << 22, kTile = 1u << 24, kInt8 = 1u << 25;  // CPUID.(7,0):EDX
    if ((d & (kBf16 | kTile | kInt8)) != (kBf16 | kTile | kInt8)) return false;
    // Linux hands out the 8 KiB tile state only on request (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA).
    constexpr long kReqXcompPerm = 0x1023, kXtileData = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXtileData) == 0;
  }();
  return has;
}

bool cpu_has_avx2() {
  static const bool has = [] {
    if (isa_capped_below("avx2")) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
}

void gemm_nt(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* W,
             int64_t ldw, float* C, int64_t ldc, const float* bias) {
  if (m <= 0 || n <= 0) return;
  if (cpu_has_avx512())
    gemm_nt_avx512(m, n, k, A, lda, W, ldw, C, ldc, bias);
  else if (cpu_has_avx2())
    gemm_nt_avx2(m, n, k, A, lda, W, ldw, C, ldc, bias);
  else
    gemm_nt_scalar(m, n, k, A, lda, W, ldw, C, ldc, bias);
}

void matmul(int64_t m, int64_t n, int64_t k, const float* A, const float* W, float* C,
            const float* bias) {
  if (m <= 0 || n <= 0) return;
  // Small products are not worth waking the pool.
  if (m * n * k < (int64_t{1} << 15) || num_threads() == 1) {
    gemm_nt(m, n, k, A, k, W, k, C, n, bias);
    return;
  }
  parallel_for(
      n,
      [&](int64_t j0, int64_t j1) {
        gemm_nt(m, j1 - j0, k, A, k, W + j0 * k, k, C + j0, n, bias ? bias + j0 : nullptr);
      },
      16);
}

void gemm_nt_scalar(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* W,
                    int64_t ldw, float* C, int64_t ldc, const float* bias) {
  // 4 weight rows at a time share each activation load; 8 partial sums per dot product let the
  // compiler vectorise without reassociating across the whole row.
  constexpr int NR = 4, LANES = 8;
  for (int64_t j0 = 0; j0 < n; j0 += NR) {
    const int nr = static_cast<int>(std::min<int64_t>(NR, n - j0));
    for (int64_t i = 0; i < m; ++i) {
      const float* a = A + i * lda;
      float acc[NR][LANES] = {};
      const int64_t kv = k / LANES * LANES;
      for (int r = 0; r < nr; ++r) {
        const float* w = W + (j0 + r) * ldw;
        for (int64_t t = 0; t < kv; t += LANES)
          for (int l = 0; l < LANES; ++l) acc[r][l] += a[t + l] * w[t + l];
        for (int64_t t = kv; t < k; ++t) acc[r][t - kv] += a[t] * w[t];
      }
      for (int r = 0; r < nr; ++r) {
        float s = 0.f;
        for (int l = 0; l < LANES; ++l) s += acc[r][l];
        C[i * ldc + j0 + r] = s + (bias ? bias[j0 + r] : 0.f);
      }
    }
  }
}

void gemm_nt_reference(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
                       const float* W, int64_t ldw, float* C, int64_t ldc, const float* bias) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = bias ? bias[j] : 0.0;
      for (int64_t t = 0; t < k; ++t) s += static_cast<double>(A[i * lda + t]) * W[j * ldw + t];
      C[i * ldc + j] = static_cast<float>(s);
    }
}

}  // namespace squish::kernels
