#include "squish/eval/kld_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "squish/common/atomic_file.h"
#include "squish/common/error.h"

namespace squish {
namespace {

constexpr char kMagic[8] = {'S', 'Q', 'L', 'O', 'G', 'I', 'T', 'S'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kHeaderBytes = 48;
constexpr uint32_t kMaxVocab = 1u << 24;
constexpr uint32_t kMaxMeta = 1u << 20;
constexpr double kU16Range = 32.0;  // nats kept below the top log-prob

uint64_t record_bytes_for(LogitsEncoding e, uint64_t n_vocab) {
  if (e == LogitsEncoding::F32) return 4 + 4 * n_vocab;
  return (16 + 2 * n_vocab + 3) / 4 * 4;
}

uint64_t records_offset_for(uint64_t meta_bytes, uint64_t n_tokens) {
  return (kHeaderBytes + meta_bytes + 4 * n_tokens + 7) / 8 * 8;
}

template <class T>
void put(std::vector<uint8_t>& buf, size_t at, T v) {
  std::memcpy(buf.data() + at, &v, sizeof v);
}

template <class T>
T get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Mean and llama.cpp's uncertainty of the mean from a sum and a sum of squares.
Uncertain mean_and_uncertainty(double sum, double sum2, size_t n) {
  Uncertain r;
  if (n < 1) return r;
  r.value = sum / n;
  const double var = sum2 / n - r.value * r.value;
  r.error = var > 0 && n > 10 ? std::sqrt(var / (n - 1)) : 0.0;
  return r;
}

Quantiles quantiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  Quantiles q;
  q.max = v.back();
  q.min = v.front();
  q.p999 = percentile_sorted(v, 0.999);
  q.p99 = percentile_sorted(v, 0.99);
  q.p95 = percentile_sorted(v, 0.95);
  q.p90 = percentile_sorted(v, 0.90);
  q.p75 = percentile_sorted(v, 0.75);
  const size_t n = v.size();
  q.median = n % 2 == 0 ? 0.5 * (v[n / 2] + v[n / 2 - 1]) : v[n / 2];
  q.p25 = percentile_sorted(v, 0.25);
  q.p10 = percentile_sorted(v, 0.10);
  q.p05 = percentile_sorted(v, 0.05);
  q.p01 = percentile_sorted(v, 0.01);
  q.p001 = percentile_sorted(v, 0.001);
  return q;
}

nlohmann::json to_json(const Uncertain& u) { return {{"value", u.value}, {"error", u.error}}; }

nlohmann::json to_json(const Quantiles& q) {
  return {{"max", q.max},   {"p99.9", q.p999}, {"p99", q.p99}, {"p95", q.p95}, {"p90", q.p90},
          {"p75", q.p75},   {"median", q.median}, {"p25", q.p25}, {"p10", q.p10},
          {"p5", q.p05},    {"p1", q.p01},     {"p0.1", q.p001}, {"min", q.min}};
}

// Log-sum-exp of n doubles.
double log_sum_exp(const double* x, int64_t n) {
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  if (!std::isfinite(mx)) return mx;
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(x[i] - mx);
  return mx + std::log(s);
}

}  // namespace

void log_softmax(const float* logits, int64_t n, double* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = logits[i];
  const double lse = log_sum_exp(out, n);
  for (int64_t i = 0; i < n; ++i) out[i] -= lse;
}

KldPosition compare_position(const double* base_log_probs, const float* quant_logits,
                             int64_t n_vocab, int32_t token) {
  if (n_vocab < 1 || token < 0 || token >= n_vocab)
    throw std::invalid_argument("compare_position: token out of range");
  std::vector<double> lq(static_cast<size_t>(n_vocab));
  log_softmax(quant_logits, n_vocab, lq.data());
  KldPosition r;
  double kld = 0;
  int64_t top_q = 0, top_p = 0;
  for (int64_t i = 0; i < n_vocab; ++i) {
    const double lp = base_log_probs[i];
    if (lq[i] > lq[top_q]) top_q = i;
    if (lp > base_log_probs[top_p]) top_p = i;
    if (lp == -std::numeric_limits<double>::infinity()) continue;  // p = 0 contributes 0
    kld += std::exp(lp) * (lp - lq[i]);
  }
  r.kld = kld;
  r.nll = -lq[token];
  r.nll_base = -base_log_probs[token];
  r.p_diff = std::exp(-r.nll) - std::exp(-r.nll_base);
  r.same_top = top_q == top_p;
  return r;
}

KldPosition compare_logits(const float* base_logits, const float* quant_logits, int64_t n_vocab,
                           int32_t token) {
  std::vector<double> lp(static_cast<size_t>(n_vocab));
  log_softmax(base_logits, n_vocab, lp.data());
  return compare_position(lp.data(), quant_logits, n_vocab, token);
}

double percentile_sorted(const std::vector<double>& v, double fraction) {
  if (v.empty()) throw std::logic_error("percentile of an empty sample");
  if (fraction <= 0) return v.front();
  if (fraction >= 1) return v.back();
  double p = fraction * static_cast<double>(v.size() - 1);
  const size_t ip = static_cast<size_t>(p);
  p -= static_cast<double>(ip);
  return (1 - p) * v[ip] + p * v[std::min(ip + 1, v.size() - 1)];
}

void KldAccumulator::add(const KldPosition& p) { positions_.push_back(p); }

KldStats KldAccumulator::finish() const {
  if (positions_.empty()) throw std::logic_error("KLD statistics of no positions");
  const size_t n = positions_.size();
  double s_nll = 0, s_nll2 = 0, s_b = 0, s_b2 = 0, s_nb = 0, s_k = 0, s_k2 = 0, s_d = 0, s_d2 = 0,
         s_d4 = 0;
  size_t same = 0;
  std::vector<double> klds(n), diffs(n);
  for (size_t i = 0; i < n; ++i) {
    const KldPosition& p = positions_[i];
    s_nll += p.nll;
    s_nll2 += p.nll * p.nll;
    s_b += p.nll_base;
    s_b2 += p.nll_base * p.nll_base;
    s_nb += p.nll * p.nll_base;
    s_k += p.kld;
    s_k2 += p.kld * p.kld;
    const double d2 = p.p_diff * p.p_diff;
    s_d += p.p_diff;
    s_d2 += d2;
    s_d4 += d2 * d2;
    same += p.same_top ? 1 : 0;
    klds[i] = p.kld;
    diffs[i] = p.p_diff;
  }
  KldStats s;
  s.count = n;
  const Uncertain lq = mean_and_uncertainty(s_nll, s_nll2, n);
  const Uncertain lb = mean_and_uncertainty(s_b, s_b2, n);
  const double cov = n < 10 ? 0.0 : (s_nb / n - (s_nll / n) * (s_b / n)) / (n - 1);
  s.ppl = {std::exp(lq.value), std::exp(lq.value) * lq.error};
  s.ppl_base = {std::exp(lb.value), std::exp(lb.value) * lb.error};
  s.ln_ppl_correlation = lq.error > 0 && lb.error > 0 ? cov / (lq.error * lb.error) : 0.0;
  const double ratio_unc =
      std::sqrt(std::max(0.0, lq.error * lq.error + lb.error * lb.error - 2 * cov));
  s.ln_ppl_ratio = {lq.value - lb.value, ratio_unc};
  s.ppl_ratio = {std::exp(s.ln_ppl_ratio.value), std::exp(s.ln_ppl_ratio.value) * ratio_unc};
  const double ppl_cov = s.ppl.value * s.ppl_base.value * cov;
  s.ppl_diff = {s.ppl.value - s.ppl_base.value,
                std::sqrt(std::max(0.0, s.ppl.error * s.ppl.error +
                                            s.ppl_base.error * s.ppl_base.error - 2 * ppl_cov))};
  s.kld_mean = mean_and_uncertainty(s_k, s_k2, n);
  s.kld = quantiles(std::move(klds));
  s.p_diff_mean = mean_and_uncertainty(s_d, s_d2, n);
  s.p_diff = quantiles(std::move(diffs));
  const Uncertain mse = mean_and_uncertainty(s_d2, s_d4, n);
  const double rms = std::sqrt(mse.value);
  s.p_diff_rms = {rms, rms > 0 ? 0.5 / rms * mse.error : 0.0};
  const double f = static_cast<double>(same) / n;
  s.same_top = {f, n > 1 ? std::sqrt(f * (1 - f) / (n - 1)) : 0.0};
  return s;
}

nlohmann::json KldStats::to_json() const {
  return {{"count", count},
          {"ppl", squish::to_json(ppl)},
          {"ppl_base", squish::to_json(ppl_base)},
          {"ln_ppl_correlation", ln_ppl_correlation},
          {"ln_ppl_ratio", squish::to_json(ln_ppl_ratio)},
          {"ppl_ratio", squish::to_json(ppl_ratio)},
          {"ppl_diff", squish::to_json(ppl_diff)},
          {"kld_mean", squish::to_json(kld_mean)},
          {"kld", squish::to_json(kld)},
          {"p_diff_mean", squish::to_json(p_diff_mean)},
          {"p_diff", squish::to_json(p_diff)},
          {"p_diff_rms", squish::to_json(p_diff_rms)},
          {"same_top", squish::to_json(same_top)}};
}

std::string KldStats::to_markdown() const {
  std::string s = fmt::format("| statistic | value |\n|---|---|\n| positions | {} |\n", count);
  auto row = [&](const char* name, const std::string& v) { s += fmt::format("| {} | {} |\n", name, v); };
  auto pm = [](const Uncertain& u, double k, const char* unit) {
    return fmt::format("{:.6f} ± {:.6f}{}", k * u.value, k * u.error, unit);
  };
  row("Mean PPL(Q)", pm(ppl, 1, ""));
  row("Mean PPL(base)", pm(ppl_base, 1, ""));
  row("Cor(ln(PPL(Q)), ln(PPL(base)))", fmt::format("{:.2f}%", 100 * ln_ppl_correlation));
  row("Mean ln(PPL(Q)/PPL(base))", pm(ln_ppl_ratio, 1, ""));
  row("Mean PPL(Q)/PPL(base)", pm(ppl_ratio, 1, ""));
  row("Mean PPL(Q)-PPL(base)", pm(ppl_diff, 1, ""));
  row("Mean KLD", pm(kld_mean, 1, ""));
  const std::pair<const char*, double> kq[] = {
      {"Maximum KLD", kld.max}, {"99.9% KLD", kld.p999}, {"99.0% KLD", kld.p99},
      {"95.0% KLD", kld.p95},   {"90.0% KLD", kld.p90},  {"Median KLD", kld.median},
      {"10.0% KLD", kld.p10},   {"5.0% KLD", kld.p05},   {"1.0% KLD", kld.p01},
      {"0.1% KLD", kld.p001},   {"Minimum KLD", kld.min}};
  for (const auto& [name, v] : kq) row(name, fmt::format("{:.6f}", v));
  row("Mean Δp", pm(p_diff_mean, 100, " %"));
  const std::pair<const char*, double> dq[] = {
      {"Maximum Δp", p_diff.max}, {"99.9% Δp", p_diff.p999}, {"99.0% Δp", p_diff.p99},
      {"95.0% Δp", p_diff.p95},   {"90.0% Δp", p_diff.p90},  {"75.0% Δp", p_diff.p75},
      {"Median Δp", p_diff.median}, {"25.0% Δp", p_diff.p25}, {"10.0% Δp", p_diff.p10},
      {"5.0% Δp", p_diff.p05},    {"1.0% Δp", p_diff.p01},  {"0.1% Δp", p_diff.p001},
      {"Minimum Δp", p_diff.min}};
  for (const auto& [name, v] : dq) row(name, fmt::format("{:.3f}%", 100 * v));
  row("RMS Δp", pm(p_diff_rms, 100, " %"));
  row("Same top p", pm(same_top, 100, " %"));
  return s;
}

// ---- base logits file ----

struct BaseLogitsWriter::Impl {
  AtomicFile file;
  BaseLogitsInfo info;
  uint64_t written = 0;
  std::vector<double> lp;
  std::vector<uint8_t> rec;
  Impl(const std::string& path, const BaseLogitsInfo& i, bool overwrite)
      : file(path, overwrite), info(i) {}
};

BaseLogitsWriter::BaseLogitsWriter(const std::string& path, const BaseLogitsInfo& info,
                                   bool overwrite) {
  if (info.n_vocab < 2 || info.n_vocab > kMaxVocab)
    throw Error(path, fmt::format("vocabulary size {} out of range", info.n_vocab));
  if (info.encoding != LogitsEncoding::F32 && info.encoding != LogitsEncoding::U16)
    throw Error(path, "unknown logits encoding");
  if (info.meta.size() > kMaxMeta) throw Error(path, "metadata longer than 1 MiB");
  impl_ = std::make_unique<Impl>(path, info, overwrite);
  std::vector<uint8_t> h(kHeaderBytes, 0);
  std::memcpy(h.data(), kMagic, 8);
  put<uint32_t>(h, 8, kVersion);
  put<uint32_t>(h, 12, static_cast<uint32_t>(info.encoding));
  put<uint32_t>(h, 16, info.n_vocab);
  put<uint32_t>(h, 20, info.n_ctx);
  put<uint64_t>(h, 24, info.n_positions);
  put<uint64_t>(h, 32, info.tokens.size());
  put<uint32_t>(h, 40, static_cast<uint32_t>(info.meta.size()));
  impl_->file.write(h.data(), h.size());
  impl_->file.write(info.meta.data(), info.meta.size());
  impl_->file.write(info.tokens.data(), info.tokens.size() * sizeof(int32_t));
  impl_->file.pad_to(8);
  impl_->lp.resize(info.n_vocab);
  impl_->rec.resize(record_bytes_for(info.encoding, info.n_vocab));
}

BaseLogitsWriter::~BaseLogitsWriter() = default;

void BaseLogitsWriter::add(const float* logits, int32_t token) {
  Impl& m = *impl_;
  const uint32_t nv = m.info.n_vocab;
  if (token < 0 || static_cast<uint32_t>(token) >= nv)
    throw Error(m.file.path(), fmt::format("token {} outside the vocabulary", token));
  if (m.written >= m.info.n_positions)
    throw Error(m.file.path(), "more positions than the header declares");
  for (uint32_t i = 0; i < nv; ++i)
    if (std::isnan(logits[i]) || logits[i] == std::numeric_limits<float>::infinity())
      throw Error(m.file.path(), fmt::format("position {}: logit {} is not finite", m.written, i));
  log_softmax(logits, nv, m.lp.data());
  if (std::isnan(m.lp[0]))
    throw Error(m.file.path(), fmt::format("position {}: every logit is -inf", m.written));
  std::fill(m.rec.begin(), m.rec.end(), 0);
  put<int32_t>(m.rec, 0, token);
  if (m.info.encoding == LogitsEncoding::F32) {
    for (uint32_t i = 0; i < nv; ++i) put<float>(m.rec, 4 + 4 * size_t(i), static_cast<float>(m.lp[i]));
  } else {
    double hi = -std::numeric_limits<double>::infinity(), lo = std::numeric_limits<double>::infinity();
    for (double v : m.lp) {
      hi = std::max(hi, v);
      if (std::isfinite(v)) lo = std::min(lo, v);
    }
    const float floor_f = static_cast<float>(std::max(lo, hi - kU16Range));
    const float step = static_cast<float>((hi - floor_f) / 65535.0);
    put<float>(m.rec, 4, static_cast<float>(m.lp[token]));
    put<float>(m.rec, 8, floor_f);
    put<float>(m.rec, 12, step);
    for (uint32_t i = 0; i < nv; ++i) {
      double c = step > 0 ? std::nearbyint((m.lp[i] - floor_f) / step) : 0.0;
      if (!(c >= 0)) c = 0;  // also -inf log-probs
      put<uint16_t>(m.rec, 16 + 2 * size_t(i), static_cast<uint16_t>(std::min(c, 65535.0)));
    }
  }
  m.file.write(m.rec.data(), m.rec.size());
  ++m.written;
}

void BaseLogitsWriter::commit() {
  if (impl_->written != impl_->info.n_positions)
    throw Error(impl_->file.path(),
                fmt::format("{} positions written, header declares {}", impl_->written,
                            impl_->info.n_positions));
  impl_->file.commit();
}

BaseLogitsReader::BaseLogitsReader(const std::string& path) : map_(path) {
  const uint8_t* d = map_.data();
  const uint64_t size = map_.size();
  if (size < kHeaderBytes) throw Error(path, "too short for a base logits file");
  if (std::memcmp(d, kMagic, 8) != 0) throw Error(path, "not a squish base logits file (bad magic)");
  const uint32_t version = get<uint32_t>(d + 8);
  if (version != kVersion) throw Error(path, fmt::format("unsupported version {}", version));
  const uint32_t enc = get<uint32_t>(d + 12);
  if (enc > 1) throw Error(path, fmt::format("unknown logits encoding {}", enc));
  info_.encoding = static_cast<LogitsEncoding>(enc);
  info_.n_vocab = get<uint32_t>(d + 16);
  if (info_.n_vocab < 2 || info_.n_vocab > kMaxVocab)
    throw Error(path, fmt::format("vocabulary size {} out of range", info_.n_vocab));
  info_.n_ctx = get<uint32_t>(d + 20);
  info_.n_positions = get<uint64_t>(d + 24);
  const uint64_t n_tokens = get<uint64_t>(d + 32);
  const uint32_t meta_bytes = get<uint32_t>(d + 40);
  if (meta_bytes > kMaxMeta) throw Error(path, "metadata length out of range");
  if (n_tokens > size / 4) throw Error(path, fmt::format("token count {} exceeds the file", n_tokens));
  record_bytes_ = record_bytes_for(info_.encoding, info_.n_vocab);
  records_offset_ = records_offset_for(meta_bytes, n_tokens);
  if (info_.n_positions > size / record_bytes_)
    throw Error(path, fmt::format("position count {} exceeds the file", info_.n_positions));
  const uint64_t expected = records_offset_ + info_.n_positions * record_bytes_;
  if (expected != size)
    throw Error(path, fmt::format("file is {} bytes, header implies {} (truncated or corrupt)",
                                  size, expected));
  info_.meta.assign(reinterpret_cast<const char*>(d + kHeaderBytes), meta_bytes);
  info_.tokens.resize(n_tokens);
  std::memcpy(info_.tokens.data(), d + kHeaderBytes + meta_bytes, n_tokens * 4);
  for (uint64_t i = 0; i < n_tokens; ++i)
    if (info_.tokens[i] < 0 || static_cast<uint32_t>(info_.tokens[i]) >= info_.n_vocab)
      throw Error(path, fmt::format("token {} at index {} outside the vocabulary", info_.tokens[i], i));
}

const uint8_t* BaseLogitsReader::record(uint64_t i) const {
  if (i >= info_.n_positions)
    throw Error(map_.path(), fmt::format("record {} of {} requested", i, info_.n_positions));
  return map_.data() + records_offset_ + i * record_bytes_;
}

int32_t BaseLogitsReader::token(uint64_t i) const {
  const int32_t t = get<int32_t>(record(i));
  if (t < 0 || static_cast<uint32_t>(t) >= info_.n_vocab)
    throw Error(map_.path(), fmt::format("record {}: token {} outside the vocabulary", i, t));
  return t;
}

int32_t BaseLogitsReader::log_probs(uint64_t i, double* out) const {
  const int32_t t = token(i);
  const uint8_t* r = record(i);
  const uint32_t nv = info_.n_vocab;
  if (info_.encoding == LogitsEncoding::F32) {
    for (uint32_t k = 0; k < nv; ++k) out[k] = get<float>(r + 4 + 4 * size_t(k));
  } else {
    const double target = get<float>(r + 4), floor_v = get<float>(r + 8), step = get<float>(r + 12);
    if (!std::isfinite(floor_v) || !std::isfinite(step) || step < 0 || step > 1 || std::isnan(target))
      throw Error(map_.path(), fmt::format("record {}: bad scale", i));
    for (uint32_t k = 0; k < nv; ++k) out[k] = floor_v + step * get<uint16_t>(r + 16 + 2 * size_t(k));
    out[t] = target;
  }
  for (uint32_t k = 0; k < nv; ++k)
    if (std::isnan(out[k]) || out[k] > 1e-3)
      throw Error(map_.path(), fmt::format("record {}: log-prob {} is not ≤ 0", i, k));
  const double lse = log_sum_exp(out, nv);
  if (!(std::fabs(lse) < 1e-2))
    throw Error(map_.path(), fmt::format("record {}: log-probs do not sum to 1 (corrupt)", i));
  for (uint32_t k = 0; k < nv; ++k) out[k] -= lse;
  return t;
}

}  // namespace squish
