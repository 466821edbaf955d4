// Quantized HF linears repacked into GGUF blocks (hf_quantized_repack.cpp, hf_packed_weights.cpp):
// small synthetic GPTQ / AWQ / compressed-tensors linears, packed by hand here in each format's
// layout, choose the block type their grid allows (Q4_0 symmetric INT4, Q4_1 asymmetric INT4 with
// F16-exact minimums, else Q5_0, Q8_0 INT8) and dequantize through those blocks — with the
// reference and with the kernels' fast dequantizer — to the checkpoint's own dequantization bit
// for bit; grids no block type reproduces (F32 scales off the F16 grid, groups of 16, act-order
// g_idx, FP8, W8A8) stay F32; Model::load(keep_quantized) runs them packed, in ggml row order.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include "squish/common/error.h"
#include "squish/export/checkpoint_writer.h"
#include "squish/export/model_source.h"
#include "squish/formats/ggml_type.h"
#include "squish/formats/half.h"
#include "squish/formats/number_formats.h"
#include "squish/io/hf_model_dir.h"
#include "squish/io/hf_quantized.h"
#include "squish/io/safetensors_writer.h"
#include "squish/kernels/dequant_fast.h"
#include "squish/model/model.h"
#include "squish/model/weights.h"
#include "test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace squish;

namespace {

constexpr int kAwqOrder[8] = {0, 4, 1, 5, 2, 6, 3, 7};  // word position of column j of eight

// A synthetic group-quantized linear: w[o][i] = scale[o][g] · (code[o][i] − zero[o][g]).
struct Synth {
  int64_t out = 64, in = 128, group = 64;  // group == in: per channel
  int bits = 4;
  std::vector<int> code;    // [out][in], unsigned stored codes (signed for int8 weights)
  std::vector<float> scale; // [out][groups]
  std::vector<int> zero;    // [out][groups], same domain as code; empty: symmetric
  int64_t groups() const { return (in + group - 1) / group; }
};

enum class Scales { Random, Pow2 };  // Pow2: k · 2^-12 with k < 32, so scale · zero fits F16

Synth make(int bits, int64_t group, bool asym, Scales sc, uint32_t seed, int64_t in = 128, bool sign = false) {
  Synth s;
  s.bits = bits;
  s.in = in;
  s.group = group;
  std::mt19937 rng(seed);
  const int hi = (1 << bits) - 1;
  std::uniform_int_distribution<int> code(sign ? -128 : 0, sign ? 127 : hi), k(1, 31);
  std::uniform_real_distribution<float> u(0.002f, 0.03f);
  for (int64_t i = 0; i < s.out * s.in; ++i) s.code.push_back(code(rng));
  for (int64_t i = 0; i < s.out * s.groups(); ++i) {
    s.scale.push_back(sc == Scales::Pow2 ? std::ldexp(static_cast<float>(k(rng)), -12) : u(rng));
    if (asym) s.zero.push_back(std::uniform_int_distribution<int>(0, hi)(rng));
  }
  return s;
}

std::vector<uint8_t> bytes_of(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  return {b, b + n};
}

// Writes `ts` as model.safetensors of a fresh directory and reads its quantization.
struct Checkpoint {
  std::string dir;
  SafeTensorsSet set;
  HFQuantization q;
};
std::unique_ptr<Checkpoint> write(const std::string& name, std::vector<STOutTensor> ts, const json& qc) {
  auto c = std::make_unique<Checkpoint>();
  c->dir = test::temp_dir() + "/" + name;
  fs::create_directories(c->dir);
  SafeTensorsWriter w;
  for (auto& t : ts) w.add(std::move(t));
  w.write(c->dir, UINT64_MAX);
  c->set = SafeTensorsSet::open(c->dir);
  c->q = read_hf_quantization(c->dir, qc, c->set);
  return c;
}

// Scales [out][groups] as stored: transposed to [groups][out] when group_major.
STOutTensor scale_tensor(const std::string& name, const Synth& s, STDType dt, bool group_major) {
  const int64_t G = s.groups();
  std::vector<float> v(s.scale.size());
  for (int64_t o = 0; o < s.out; ++o)
    for (int64_t g = 0; g < G; ++g) v[group_major ? g * s.out + o : o * G + g] = s.scale[o * G + g];
  STOutTensor t{name, dt, group_major ? std::vector<int64_t>{G, s.out} : std::vector<int64_t>{s.out, G}, {}};
  const size_t es = dt == STDType::F32 ? 4 : 2;
  t.data.resize(v.size() * es);
  for (size_t i = 0; i < v.size(); ++i) {
    if (dt == STDType::F32) std::memcpy(&t.data[4 * i], &v[i], 4);
    else {
      const uint16_t h = dt == STDType::F16 ? fp32_to_fp16(v[i]) : fp32_to_bf16(v[i]);
      std::memcpy(&t.data[2 * i], &h, 2);
    }
  }
  return t;
}

// AutoGPTQ v1: qweight [in·bits/32, out], qzeros [groups, out·bits/32] holding zero − 1.
std::unique_ptr<Checkpoint> gptq(const std::string& name, const Synth& s, STDType dt) {
  const int per = 32 / s.bits;
  const int64_t G = s.groups();
  const uint32_t mask = (1u << s.bits) - 1;
  std::vector<uint32_t> qw(static_cast<size_t>(s.in / per * s.out)), qz(static_cast<size_t>(G * s.out / per));
  for (int64_t o = 0; o < s.out; ++o)
    for (int64_t i = 0; i < s.in; ++i)
      qw[(i / per) * s.out + o] |= static_cast<uint32_t>(s.code[o * s.in + i]) << (s.bits * (i % per));
  for (int64_t g = 0; g < G; ++g)
    for (int64_t o = 0; o < s.out; ++o) {
      const int z = s.zero.empty() ? 1 << (s.bits - 1) : s.zero[o * G + g];
      qz[g * (s.out / per) + o / per] |= ((static_cast<uint32_t>(z) - 1) & mask) << (s.bits * (o % per));
    }
  std::vector<STOutTensor> ts;
  ts.push_back({"m.qweight", STDType::I32, {s.in / per, s.out}, bytes_of(qw.data(), qw.size() * 4)});
  ts.push_back({"m.qzeros", STDType::I32, {G, s.out / per}, bytes_of(qz.data(), qz.size() * 4)});
  ts.push_back(scale_tensor("m.scales", s, dt, true));
  const json qc = {{"quant_method", "gptq"}, {"bits", s.bits}, {"group_size", s.group == s.in ? -1 : s.group},
                   {"sym", s.zero.empty()}, {"checkpoint_format", "gptq"}};
  return write(name, std::move(ts), qc);
}

// AutoAWQ GEMM: qweight [in, out/8], qzeros [groups, out/8], eight columns per word in AWQ order.
std::unique_ptr<Checkpoint> awq(const std::string& name, const Synth& s, STDType dt) {
  const int64_t G = s.groups(), W = s.out / 8;
  std::vector<uint32_t> qw(static_cast<size_t>(s.in * W)), qz(static_cast<size_t>(G * W));
  for (int64_t o = 0; o < s.out; ++o) {
    const int shift = 4 * kAwqOrder[o % 8];
    for (int64_t i = 0; i < s.in; ++i) qw[i * W + o / 8] |= static_cast<uint32_t>(s.code[o * s.in + i]) << shift;
    for (int64_t g = 0; g < G; ++g) qz[g * W + o / 8] |= static_cast<uint32_t>(s.zero[o * G + g]) << shift;
  }
  std::vector<STOutTensor> ts;
  ts.push_back({"m.qweight", STDType::I32, {s.in, W}, bytes_of(qw.data(), qw.size() * 4)});
  ts.push_back({"m.qzeros", STDType::I32, {G, W}, bytes_of(qz.data(), qz.size() * 4)});
  ts.push_back(scale_tensor("m.scales", s, dt, true));
  const json qc = {{"quant_method", "awq"}, {"bits", 4}, {"group_size", s.group}, {"version", "gemm"}, {"zero_point", true}};
  return write(name, std::move(ts), qc);
}

json ct_config(const std::string& format, const json& weights, const json& input = nullptr) {
  json g = {{"targets", {"Linear"}}, {"weights", weights}, {"format", format}};
  if (!input.is_null()) g["input_activations"] = input;
  return {{"quant_method", "compressed-tensors"}, {"quantization_status", "compressed"}, {"format", format},
          {"config_groups", {{"group_0", g}}}};
}

json ct_weights(const Synth& s, bool asym, const std::string& type = "int") {
  json w = {{"num_bits", s.bits}, {"type", type}, {"symmetric", !asym}};
  if (s.group == s.in) w["strategy"] = "channel";
  else w["strategy"] = "group", w["group_size"] = s.group;
  return w;
}

// compressed-tensors pack-quantized: weight_packed [out, in·bits/32] (a k-bit stream per row of
// the codes), weight_shape, weight_scale [out, groups], signed int8 weight_zero_point.
std::unique_ptr<Checkpoint> ct_packed(const std::string& name, const Synth& s, STDType dt,
                                      const std::vector<int32_t>& g_idx = {}) {
  const int64_t words = s.in * s.bits / 32, G = s.groups();
  std::vector<uint32_t> wp(static_cast<size_t>(s.out * words));
  for (int64_t o = 0; o < s.out; ++o)
    for (int64_t i = 0; i < s.in; ++i) {
      const uint64_t bit = static_cast<uint64_t>(i) * s.bits;
      const uint64_t v = static_cast<uint64_t>(s.code[o * s.in + i]) << (bit % 32);
      wp[o * words + bit / 32] |= static_cast<uint32_t>(v);
      if (v >> 32) wp[o * words + bit / 32 + 1] |= static_cast<uint32_t>(v >> 32);
    }
  const int64_t shape[2] = {s.out, s.in};
  std::vector<STOutTensor> ts;
  ts.push_back({"m.weight_packed", STDType::I32, {s.out, words}, bytes_of(wp.data(), wp.size() * 4)});
  ts.push_back({"m.weight_shape", STDType::I64, {2}, bytes_of(shape, 16)});
  ts.push_back(scale_tensor("m.weight_scale", s, dt, false));
  if (!s.zero.empty()) {
    std::vector<int8_t> z(s.zero.size());
    for (size_t i = 0; i < z.size(); ++i) z[i] = static_cast<int8_t>(s.zero[i] - (1 << (s.bits - 1)));
    ts.push_back({"m.weight_zero_point", STDType::I8, {s.out, G}, bytes_of(z.data(), z.size())});
  }
  if (!g_idx.empty())
    ts.push_back({"m.weight_g_idx", STDType::I32, {s.in}, bytes_of(g_idx.data(), g_idx.size() * 4)});
  return write(name, std::move(ts), ct_config("pack-quantized", ct_weights(s, !s.zero.empty())));
}

// compressed-tensors int-quantized (W8A16, or W8A8 with `input`): int8 weight, weight_scale.
std::unique_ptr<Checkpoint> ct_int8(const std::string& name, const Synth& s, STDType dt, const json& input = nullptr) {
  std::vector<int8_t> w(s.code.size());
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(s.code[i]);
  std::vector<STOutTensor> ts;
  ts.push_back({"m.weight", STDType::I8, {s.out, s.in}, bytes_of(w.data(), w.size())});
  ts.push_back(scale_tensor("m.weight_scale", s, dt, false));
  return write(name, std::move(ts), ct_config("int-quantized", ct_weights(s, false), input));
}

const HFQuantizedLinear& only(const Checkpoint& c) {
  EXPECT_EQ(c.q.linears.size(), 1u);
  return *c.q.linears.front();
}

// Repacks l (rows in reverse order, to exercise dst_row) and checks that both dequantizers of the
// blocks give the checkpoint's dequantization bit for bit.
void expect_exact(const HFQuantizedLinear& l) {
  ASSERT_NE(l.packed_type, GGMLType::F32) << l.scheme << ": " << l.packed_note;
  const int64_t rows = l.out_features, cols = l.in_features;
  std::vector<float> want(static_cast<size_t>(rows * cols)), got(static_cast<size_t>(cols));
  l.dequantize(want.data());
  const size_t rb = row_bytes(l.packed_type, cols);
  std::vector<uint8_t> packed(rb * static_cast<size_t>(rows));
  std::vector<int64_t> order(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) order[r] = rows - 1 - r;
  l.repack(packed.data(), order);
  int64_t bad = 0, bad_fast = 0;
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(l.packed_type, packed.data() + order[r] * rb, got.data(), cols);
    bad += std::memcmp(got.data(), want.data() + r * cols, cols * sizeof(float)) != 0;
    kernels::dequantize_row_fast(l.packed_type, packed.data() + order[r] * rb, got.data(), cols);
    bad_fast += std::memcmp(got.data(), want.data() + r * cols, cols * sizeof(float)) != 0;
  }
  EXPECT_EQ(bad, 0) << l.scheme;
  EXPECT_EQ(bad_fast, 0) << l.scheme;
}

void expect_type(const HFQuantizedLinear& l, GGMLType t) {
  EXPECT_EQ(type_name(l.packed_type), type_name(t)) << l.scheme << " (" << l.packed_note << ")";
  if (t != GGMLType::F32) {
    EXPECT_NE(l.scheme.find("packs to " + type_name(t)), std::string::npos) << l.scheme;
    expect_exact(l);
  } else {
    EXPECT_FALSE(l.packed_note.empty());
    EXPECT_EQ(l.scheme.find("packs to"), std::string::npos) << l.scheme;
    std::vector<uint8_t> dst(16);
    EXPECT_THROW(l.repack(dst.data()), Error);
  }
}

}  // namespace

TEST(Repack, SymmetricInt4IsQ4_0) {
  for (STDType dt : {STDType::BF16, STDType::F16}) {
    for (int64_t g : {32, 64, 128}) {
      const Synth s = make(4, g, false, Scales::Random, 1 + static_cast<uint32_t>(g));
      expect_type(only(*gptq("gptq_sym_" + std::to_string(g), s, dt)), GGMLType::Q4_0);
      expect_type(only(*ct_packed("ct_sym_" + std::to_string(g), s, dt)), GGMLType::Q4_0);
    }
  }
  const Synth channel = make(4, 128, false, Scales::Random, 7);  // group == in: per channel
  expect_type(only(*ct_packed("ct_sym_channel", channel, STDType::BF16)), GGMLType::Q4_0);
  expect_type(only(*gptq("gptq_sym_channel", channel, STDType::F16)), GGMLType::Q4_0);
}

TEST(Repack, AsymmetricInt4IsQ4_1WhenTheMinimumFitsF16ElseQ5_0) {
  // Scales of 5 significant bits: scale · zero has at most 9 and is an F16 value.
  const Synth exact = make(4, 64, true, Scales::Pow2, 11);
  expect_type(only(*awq("awq_q41", exact, STDType::F16)), GGMLType::Q4_1);
  expect_type(only(*gptq("gptq_q41", exact, STDType::BF16)), GGMLType::Q4_1);
  expect_type(only(*ct_packed("ct_q41", exact, STDType::BF16)), GGMLType::Q4_1);
  // BF16 / F16 scales of full precision: some scale · zero needs more than F16's 11 bits.
  const Synth full = make(4, 64, true, Scales::Random, 12);
  bool rounds = false;
  for (size_t i = 0; i < full.scale.size(); ++i) {
    const float s = fp16_to_fp32(fp32_to_fp16(full.scale[i])), m = s * static_cast<float>(full.zero[i]);
    rounds = rounds || fp16_to_fp32(fp32_to_fp16(m)) != m;
  }
  ASSERT_TRUE(rounds);
  expect_type(only(*awq("awq_q50", full, STDType::F16)), GGMLType::Q5_0);
  expect_type(only(*gptq("gptq_q50", full, STDType::BF16)), GGMLType::Q5_0);
  expect_type(only(*ct_packed("ct_q50", full, STDType::F16)), GGMLType::Q5_0);
}

TEST(Repack, Int8IsQ8_0) {
  const Synth s = make(8, 32, false, Scales::Random, 21, 128, true);
  expect_type(only(*ct_int8("ct_w8a16", s, STDType::BF16)), GGMLType::Q8_0);
  Synth u = make(8, 64, false, Scales::Random, 22);  // unsigned codes around 128
  expect_type(only(*gptq("gptq_int8", u, STDType::F16)), GGMLType::Q8_0);
  expect_type(only(*ct_packed("ct_int8_packed", u, STDType::BF16)), GGMLType::Q8_0);
}

TEST(Repack, NarrowerGridsFitTheSmallestBlockExactly) {
  expect_type(only(*gptq("gptq_int2", make(2, 64, false, Scales::Random, 31), STDType::BF16)), GGMLType::Q4_0);
  expect_type(only(*ct_packed("ct_int3", make(3, 32, false, Scales::Random, 32, 96), STDType::BF16)), GGMLType::Q4_0);
  // 5-bit asymmetric: codes minus zeros span [-31, 31].
  expect_type(only(*ct_packed("ct_int5_asym", make(5, 32, true, Scales::Random, 33), STDType::BF16)), GGMLType::Q8_0);
}

TEST(Repack, F32ScalesOnTheF16GridPackOthersStayF32) {
  expect_type(only(*ct_packed("ct_f32_pow2", make(4, 64, false, Scales::Pow2, 41), STDType::F32)), GGMLType::Q4_0);
  const auto c = ct_packed("ct_f32_random", make(4, 64, false, Scales::Random, 42), STDType::F32);
  expect_type(only(*c), GGMLType::F32);
  EXPECT_NE(only(*c).packed_note.find("F16"), std::string::npos) << only(*c).packed_note;
}

TEST(Repack, GridsWithoutABlockTypeStayF32) {
  expect_type(only(*ct_packed("ct_g16", make(4, 16, false, Scales::Random, 51), STDType::BF16)), GGMLType::F32);
  expect_type(only(*gptq("gptq_in48", make(4, 16, false, Scales::Random, 52, 48), STDType::BF16)), GGMLType::F32);
  // Act-order: column c in group (7c mod in) / group; every block of 32 spans several groups.
  const Synth s = make(4, 32, false, Scales::Random, 53);
  std::vector<int32_t> perm(static_cast<size_t>(s.in)), contiguous(static_cast<size_t>(s.in));
  for (int64_t c = 0; c < s.in; ++c) perm[c] = static_cast<int32_t>((7 * c % s.in) / s.group), contiguous[c] = static_cast<int32_t>(c / s.group);
  expect_type(only(*ct_packed("ct_actorder", s, STDType::BF16, perm)), GGMLType::F32);
  expect_type(only(*ct_packed("ct_gidx_contiguous", s, STDType::BF16, contiguous)), GGMLType::Q4_0);
  // W8A8: the input is quantized too.
  const Synth w8 = make(8, 128, false, Scales::Random, 54, 128, true);
  const json dyn = {{"num_bits", 8}, {"type", "int"}, {"symmetric", true}, {"strategy", "token"}, {"dynamic", true}};
  expect_type(only(*ct_int8("ct_w8a8", w8, STDType::BF16, dyn)), GGMLType::F32);
  // FP8 E4M3 codes are no integers.
  std::vector<uint8_t> fp8(static_cast<size_t>(64 * 128));
  for (size_t i = 0; i < fp8.size(); ++i) fp8[i] = static_cast<uint8_t>(i % 0x70);
  std::vector<STOutTensor> ts;
  ts.push_back({"m.weight", STDType::F8_E4M3, {64, 128}, fp8});
  ts.push_back(scale_tensor("m.weight_scale", w8, STDType::BF16, false));
  json w = {{"num_bits", 8}, {"type", "float"}, {"symmetric", true}, {"strategy", "channel"}};
  expect_type(only(*write("ct_fp8", std::move(ts), ct_config("float-quantized", w))), GGMLType::F32);
}

namespace {

// The tiny llama exported as `format` with INT4 groups of 32 (down_proj: 16) or per channel:
// q/k/v/o/gate/up (32 inputs) pack, down_proj (48 inputs, not whole blocks) stays F32.
std::string export_tiny(const std::string& name, CheckpointFormat format, bool sym, bool per_channel) {
  const std::string tiny = test::source_dir() + "/tests/goldens/safetensors/tiny/llama/";
  const auto src = open_model_source(tiny + "model.gguf");
  CheckpointOptions opt;
  opt.out_dir = test::temp_dir() + "/" + name;
  opt.format = format;
  opt.dtype = "bfloat16";
  opt.tokenizer_from = tiny + "hf";
  QuantSpec spec;
  spec.bits = 4;
  spec.symmetric = sym;
  spec.method = sym ? ScaleMethod::AbsMax : ScaleMethod::MinMax;
  spec.granularity = Granularity::PerGroup;
  spec.group_size = 16;
  std::map<std::string, QuantizedMatrix> quantized;
  for (size_t i = 0; i < src->tensors().size(); ++i) {
    const SourceTensor& t = src->tensors()[i];
    if (t.name.find("blk.") != 0 || t.shape.size() != 2) continue;
    std::vector<float> w(static_cast<size_t>(t.n_elements()));
    src->rows_f32(i)->read(0, t.n_rows(), w.data());
    QuantSpec s = spec;
    if (per_channel) s.granularity = Granularity::PerChannel;  // GPTQ: one spec for all
    else if (t.shape[0] % 32 == 0) s.group_size = 32;
    quantized.emplace(t.name, quantize_matrix(w.data(), t.n_rows(), t.shape[0], s));
  }
  write_checkpoint(*src, quantized, opt);
  return opt.out_dir;
}

// Whether layer 0's attn_q runs on the AVX-512 block panels.
bool b0_has_panels(const ModelWeights& w) { return w.layers.at(0).attn_q.panels != nullptr; }

}  // namespace

TEST(Repack, ModelLoadKeepsRepackedLinearsInGgmlRowOrder) {
  for (const auto& [name, format, sym, type] :
       {std::tuple{"tiny_ct", CheckpointFormat::CompressedTensors, true, GGMLType::Q4_0},
        std::tuple{"tiny_gptq", CheckpointFormat::Gptq, true, GGMLType::Q4_0},
        std::tuple{"tiny_ct_asym", CheckpointFormat::CompressedTensors, false, GGMLType::F32}}) {  // Q4_1 / Q5_0
    const std::string dir = export_tiny(name, format, sym, format != CheckpointFormat::CompressedTensors);
    const auto f32 = Model::load(dir);
    const auto packed = Model::load(dir, LoadOptions{true});
    int n_packed = 0;
    for (size_t il = 0; il < f32->weights().layers.size(); ++il) {
      const LayerWeights& a = f32->weights().layers[il];
      const LayerWeights& b = packed->weights().layers[il];
      const std::pair<const Weight*, const Weight*> pairs[] = {
          {&a.attn_q, &b.attn_q}, {&a.attn_k, &b.attn_k}, {&a.attn_v, &b.attn_v}, {&a.attn_output, &b.attn_output},
          {&a.ffn_gate, &b.ffn_gate}, {&a.ffn_up, &b.ffn_up}, {&a.ffn_down, &b.ffn_down}};
      for (const auto& [wa, wb] : pairs) {
        ASSERT_FALSE(wa->is_packed()) << wa->name;
        if (wb->name.find("ffn_down") != std::string::npos) {
          EXPECT_FALSE(wb->is_packed()) << name << " " << wb->name;
          continue;
        }
        if (!wb->is_packed()) {
          ADD_FAILURE() << name << " " << wb->name << " was not repacked";
          continue;
        }
        if (type != GGMLType::F32) {
          EXPECT_EQ(type_name(wb->type), type_name(type)) << wb->name;
        }
        ++n_packed;
        std::vector<float> row(static_cast<size_t>(wb->cols()));
        int64_t bad = 0;
        for (int64_t r = 0; r < wb->rows(); ++r) {
          wb->row_f32(r, row.data());
          bad += std::memcmp(row.data(), wa->data.data() + r * wa->cols(), row.size() * sizeof(float)) != 0;
        }
        EXPECT_EQ(bad, 0) << name << " " << wb->name;
      }
    }
    EXPECT_EQ(n_packed, 2 * 6) << name;
    EXPECT_LT(packed->weights().bytes(), f32->weights().bytes()) << name;
    // The same weights through the quantized kernels: F32 tiles for prompts longer than
    // int8_max_tokens() give the same logits up to summation order; the AVX-512 panels of Q4_0 /
    // Q4_1 rows (int8 activations per block of 32) stay within activation rounding of them.
    const bool panels = b0_has_panels(packed->weights());
    Session sa(f32, 32), sb(packed, 32);
    const std::vector<int32_t> prompt = {1, 5, 9, 20, 7, 33, 100, 42, 3, 250, 17, 64, 128, 200, 11, 90};
    const auto la = sa.eval(prompt), lb = sb.eval(prompt);
    ASSERT_EQ(la.size(), lb.size());
    float scale = 0;
    for (float v : la) scale = std::max(scale, std::fabs(v));
    for (size_t i = 0; i < la.size(); ++i)
      ASSERT_NEAR(la[i], lb[i], panels ? 2e-2f * scale : 1e-4f * (1 + std::fabs(la[i]))) << name << " " << i;
  }
}
