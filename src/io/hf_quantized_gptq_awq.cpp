// AutoGPTQ and AutoAWQ checkpoints, unpacked as their reference dequantizers do:
//   GPTQ  qweight int32 [in·k/32, out] (k-bit input rows per word, low bits first), qzeros int32
//         [groups, out·k/32], scales [groups, out], optional g_idx int32 [in] (the group of each
//         input column, act-order); checkpoint_format "gptq" (v1) stores zero − 1, and the zero is
//         (stored + 1) & (2^k − 1) as AutoGPTQ computes it; "gptq_v2" (GPTQModel) stores the zero.
//   AWQ   GEMM: qweight int32 [in, out/8], eight 4-bit output columns per word in AWQ's order
//         (word position p holds column 0, 2, 4, 6, 1, 3, 5, 7 of its block of eight), qzeros
//         int32 [groups, out/8] in the same order, scales [groups, out].
// w[o][i] = scale[g][o] · (code − zero[g][o]) with g the group of input column i.
#include <algorithm>
#include <cctype>

#include "hf_quantized_internal.h"

namespace squish::hfq {

namespace {

// Group size of a config (-1: one group over the whole input) as the number of groups of `in`.
int64_t n_groups(const Reader& r, const std::string& module, int64_t group_size, int64_t in) {
  if (group_size == -1 || group_size == 0) return 1;
  if (group_size < 0) r.fail(module + ": group_size " + std::to_string(group_size) + " is not valid");
  return (in + group_size - 1) / group_size;
}

// The scales [groups, out] of a module, checked, as the linear's group-major scale grid.
void set_group_scales(const Reader& r, const std::string& module, int64_t group_size, GridLinear& l) {
  const SafeTensor& s = r.need(module, "scales");
  r.check_dtype(s, {STDType::F16, STDType::BF16, STDType::F32});
  const int64_t groups = n_groups(r, module, group_size, l.in_features);
  l.map.rows = l.out_features;
  l.map.cols = l.in_features;
  l.map.group_major = true;
  l.map.set_groups(groups == 1 ? l.in_features : group_size, groups);
  r.check_shape(s, l.map.shape());
  l.scales = &s;
}

class GptqLinear final : public GridLinear {
 public:
  int bits = 4;
  bool v1 = true;  // zeros stored minus one
  const SafeTensor* qzeros = nullptr;

  void row_codes(int64_t o, float* dst) const override {
    const int per = 32 / bits;
    const uint32_t mask = (1u << bits) - 1;
    for (int64_t i = 0; i < in_features; ++i) {
      const uint32_t w = load_u32(weight->data, (i / per) * out_features + o);
      dst[i] = static_cast<float>((w >> (bits * (i % per))) & mask);
    }
  }
  std::vector<float> zeros() const override {
    const int per = 32 / bits;
    const uint32_t mask = (1u << bits) - 1;
    const int64_t out = out_features, groups = map.per_row;
    std::vector<float> z(static_cast<size_t>(groups * out));
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t o = 0; o < out; ++o) {
        uint32_t v = (load_u32(qzeros->data, g * (out / per) + o / per) >> (bits * (o % per))) & mask;
        if (v1) v = (v + 1) & mask;
        z[static_cast<size_t>(g * out + o)] = static_cast<float>(v);
      }
    return z;
  }
};

// AutoAWQ's AWQ_REVERSE_ORDER: column j of a block of eight sits at word position kReverse[j].
constexpr int kReverse[8] = {0, 4, 1, 5, 2, 6, 3, 7};

class AwqLinear final : public GridLinear {
 public:
  const SafeTensor* qzeros = nullptr;

  void row_codes(int64_t o, float* dst) const override {
    const int64_t words = out_features / 8, b = o / 8;
    const int shift = 4 * kReverse[o % 8];
    for (int64_t i = 0; i < in_features; ++i)
      dst[i] = static_cast<float>((load_u32(weight->data, i * words + b) >> shift) & 0xf);
  }
  std::vector<float> zeros() const override {
    const int64_t out = out_features, words = out / 8, groups = map.per_row;
    std::vector<float> z(static_cast<size_t>(groups * out));
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t o = 0; o < out; ++o)
        z[static_cast<size_t>(g * out + o)] =
            static_cast<float>((load_u32(qzeros->data, g * words + o / 8) >> (4 * kReverse[o % 8])) & 0xf);
    return z;
  }
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

void read_gptq(const Reader& r, const json& qc, HFQuantization& out) {
  const int bits = static_cast<int>(json_int(r, qc, "bits", 4));
  if (bits != 2 && bits != 4 && bits != 8)
    r.fail("GPTQ checkpoints of " + std::to_string(bits) + " bits are not supported (2, 4, 8)");
  const int64_t group_size = json_int(r, qc, "group_size", 128);
  const std::string format = json_str(r, qc, "checkpoint_format", "gptq");
  if (format != "gptq" && format != "gptq_v2")
    r.fail("GPTQ checkpoint_format '" + format + "' is not supported (gptq, gptq_v2)");
  if (const auto it = qc.find("dynamic"); it != qc.end() && !it->is_null() && !it->empty())
    r.fail("GPTQ per-module 'dynamic' overrides are not supported");
  const bool sym = json_bool(r, qc, "sym", true), desc_act = json_bool(r, qc, "desc_act", false);
  const int per = 32 / bits;
  for (const auto& m : modules_with(r, "qweight")) {
    auto l = std::make_unique<GptqLinear>();
    const SafeTensor& qw = r.need(m, "qweight");
    r.check_dtype(qw, {STDType::I32});
    if (qw.shape.size() != 2) r.fail("tensor " + qw.name + " has shape " + shape_str(qw.shape) + ", expected a matrix");
    l->module = m;
    l->bits = bits;
    l->code_hi = (1 << bits) - 1;
    l->v1 = format == "gptq";
    l->weight = &qw;
    l->in_features = qw.shape[0] * per;
    l->out_features = qw.shape[1];
    if (l->out_features % per)
      r.fail(m + ": " + std::to_string(l->out_features) + " outputs do not pack into " + std::to_string(bits) + "-bit words");
    set_group_scales(r, m, group_size, *l);
    const SafeTensor& qz = r.need(m, "qzeros");
    r.check_dtype(qz, {STDType::I32});
    r.check_shape(qz, {l->map.per_row, l->out_features / per});
    l->qzeros = &qz;
    std::vector<std::string> owned = {m + ".scales", m + ".qzeros"};
    bool act_order = false;
    if (const SafeTensor* gi = r.find(m, "g_idx")) {
      l->map.read_g_idx(r, *gi);
      owned.push_back(gi->name);
      // A g_idx of contiguous groups (what AutoGPTQ writes without desc_act) is the default order.
      for (int64_t i = 0; i < l->in_features && !act_order; ++i)
        act_order = l->map.g_idx[static_cast<size_t>(i)] != i / l->map.group;
    }
    l->scheme = std::string(l->v1 ? "gptq" : "gptq_v2") + " int" + std::to_string(bits) + (sym ? " sym" : " asym") +
                (l->map.per_row == 1 ? " channel" : " group " + std::to_string(group_size)) +
                (act_order || desc_act ? " g_idx" : "");
    out.add(std::move(l), owned);
  }
}

void read_awq(const Reader& r, const json& qc, HFQuantization& out) {
  const int bits = static_cast<int>(json_int(r, qc, "bits", json_int(r, qc, "w_bit", 4)));
  if (bits != 4) r.fail("AWQ checkpoints of " + std::to_string(bits) + " bits are not supported (4)");
  const int64_t group_size = json_int(r, qc, "group_size", json_int(r, qc, "q_group_size", 128));
  const std::string version = lower(json_str(r, qc, "version", "gemm"));
  if (version != "gemm") r.fail("AWQ version '" + version + "' is not supported (gemm)");
  const bool zero_point = json_bool(r, qc, "zero_point", true);
  for (const auto& m : modules_with(r, "qweight")) {
    auto l = std::make_unique<AwqLinear>();
    const SafeTensor& qw = r.need(m, "qweight");
    r.check_dtype(qw, {STDType::I32});
    if (qw.shape.size() != 2) r.fail("tensor " + qw.name + " has shape " + shape_str(qw.shape) + ", expected a matrix");
    l->module = m;
    l->weight = &qw;
    l->code_hi = 15;
    l->in_features = qw.shape[0];
    l->out_features = qw.shape[1] * 8;
    set_group_scales(r, m, group_size, *l);
    const SafeTensor& qz = r.need(m, "qzeros");
    r.check_dtype(qz, {STDType::I32});
    r.check_shape(qz, {l->map.per_row, l->out_features / 8});
    l->qzeros = &qz;
    if (r.find(m, "g_idx")) r.fail("tensor " + m + ".g_idx: AWQ checkpoints have no act-order");
    l->scheme = std::string("awq gemm int4") + (zero_point ? " asym" : " sym") +
                (l->map.per_row == 1 ? " channel" : " group " + std::to_string(group_size));
    out.add(std::move(l), {m + ".scales", m + ".qzeros"});
  }
}

}  // namespace squish::hfq
