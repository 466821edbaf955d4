// The layer-by-layer calibration engine on the tiny models: LayerPass reproduces Session's layer
// inputs; later layers see the quantized earlier layers' outputs; a run interrupted after a layer
// and resumed gives results identical to an uninterrupted one; spilled activations (scratch file)
// give results identical to activations in RAM.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "squish/common/error.h"
#include "squish/formats/number_formats.h"
#include "squish/model/layer_pass.h"
#include "squish/model/model.h"
#include "squish/quant/activation_store.h"
#include "squish/quant/calibration_engine.h"
#include "test_support.h"

namespace {

using namespace squish;

std::shared_ptr<const Model> tiny(const char* name) {
  LoadOptions lo;
  lo.keep_quantized = true;
  return Model::load(test::source_dir() + "/tests/goldens/model/" + name, lo);
}

// INT4 g8 rounding of every linear; records the Hessian trace each layer saw; may throw at a
// layer (an interrupted run).
class RoundingQuantizer : public LayerQuantizer {
 public:
  int64_t fail_at = -1;
  std::map<int64_t, double> trace;  // per layer: tr(H) of the attention input
  LayerStatsOptions stats_options() const override { return {}; }
  std::string fingerprint() const override { return "int4/g8 test"; }
  LayerResult quantize(int64_t il, LayerWeights& L, LayerStats& stats) override {
    if (il == fail_at) throw std::runtime_error("interrupted");
    InputStats& in = stats.input(LayerInput::Attn);
    double tr = 0;
    for (int64_t j = 0; j < in.cols; ++j) tr += in.h[j * in.cols + j];
    trace[il] = tr;
    LayerResult r;
    QuantSpec spec;
    spec.bits = 4;
    spec.group_size = 8;
    for (Weight* w : {&L.attn_q, &L.attn_k, &L.attn_v, &L.attn_output, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) {
      QuantizedMatrix q = quantize_matrix(w->data.data(), w->rows(), w->cols(), spec);
      dequantize_matrix(q, w->data.data());
      r.matrices.emplace(w->name, std::move(q));
    }
    r.replaced[L.attn_norm.name] = L.attn_norm.data;
    r.reports.push_back({L.attn_q.name, "rtn", 0.5 + il, -1});
    return r;
  }
};

EngineOptions small_run(const std::string& state) {
  EngineOptions o;
  o.calib = {test::shared_data("calibration-mix.txt"), 3, 24, 7};
  o.state_dir = state;
  o.progress = false;
  return o;
}

void expect_same(const LayerResult& a, const LayerResult& b) {
  ASSERT_EQ(a.matrices.size(), b.matrices.size());
  for (const auto& [name, q] : a.matrices) {
    const QuantizedMatrix& p = b.matrices.at(name);
    EXPECT_EQ(q.codes, p.codes) << name;
    EXPECT_EQ(q.scales, p.scales) << name;
  }
  EXPECT_EQ(a.replaced, b.replaced);
  ASSERT_EQ(a.reports.size(), b.reports.size());
}

TEST(LayerPass, ReproducesSessionLayerInputs) {
  for (const char* name : {"tiny_llama.gguf", "tiny_gemma3.gguf", "tiny_qwen2.gguf"}) {
    const auto model = tiny(name);
    const std::vector<int32_t> tokens = {1, 50, 77, 140, 9, 201, 33, 18, 260, 4, 99, 12};
    std::map<std::string, std::vector<float>> seen;
    Session s(model, 64);
    s.set_observer([&](const LinearInput& in) { seen[in.tensor].assign(in.data, in.data + in.n_tokens * in.n_cols); });
    s.eval(tokens, true);

    const ModelConfig& c = model->config();
    LayerPass pass(c, 32);
    std::vector<float> x(tokens.size() * c.n_embd);
    pass.embed(model->weights().token_embd, tokens, x.data());
    for (int64_t il = 0; il < c.n_layer; ++il) {
      std::map<std::string, std::vector<float>> mine;
      const LinearObserver obs = [&](const LinearInput& in) {
        mine[in.tensor].assign(in.data, in.data + in.n_tokens * in.n_cols);
      };
      pass.run(model->weights().layers[il], il, x.data(), static_cast<int64_t>(tokens.size()), &obs);
      for (const auto& [t, v] : mine) {
        ASSERT_EQ(v.size(), seen.at(t).size()) << name << " " << t;
        for (size_t i = 0; i < v.size(); ++i) ASSERT_FLOAT_EQ(v[i], seen.at(t)[i]) << name << " " << t;
      }
    }
  }
}

TEST(CalibrationEngine, LaterLayersSeeQuantizedInputs) {
  const auto model = tiny("tiny_llama.gguf");
  RoundingQuantizer q;
  const std::string dir = test::temp_dir() + "/state";
  const EngineReport rep = run_calibration(model, q, small_run(dir));
  EXPECT_EQ(rep.n_samples, 3);
  EXPECT_EQ(rep.result.matrices.size(), 7u * model->config().n_layer);
  // Layer 0's input is the embedding either way; layer 1's differs from the float model's.
  LayerPass pass(model->config(), 24);
  const auto samples = calibration_samples(model->tokenizer(), small_run(dir).calib);
  double tr0 = 0, tr1 = 0;
  for (const auto& sample : samples) {
    std::vector<float> x(sample.size() * model->config().n_embd);
    pass.embed(model->weights().token_embd, sample, x.data());
    for (int64_t il = 0; il < 2; ++il) {
      LayerStats st({});
      const LinearObserver obs = st.observer();
      pass.run(model->weights().layers[il], il, x.data(), static_cast<int64_t>(sample.size()), &obs);
      const InputStats& in = st.input(LayerInput::Attn);
      for (int64_t j = 0; j < in.cols; ++j) (il == 0 ? tr0 : tr1) += in.h[j * in.cols + j];
    }
  }
  EXPECT_NEAR(q.trace.at(0), tr0, 1e-6 * tr0);
  EXPECT_GT(std::fabs(q.trace.at(1) - tr1), 1e-6 * tr1);
}

TEST(CalibrationEngine, ResumeGivesIdenticalResults) {
  const auto model = tiny("tiny_gemma3.gguf");
  RoundingQuantizer full;
  const EngineReport a = run_calibration(model, full, small_run(test::temp_dir() + "/full"));

  const std::string dir = test::temp_dir() + "/resumed";
  RoundingQuantizer broken;
  broken.fail_at = 3;
  EXPECT_THROW(run_calibration(model, broken, small_run(dir)), std::runtime_error);
  RoundingQuantizer again;
  EngineOptions o = small_run(dir);
  o.resume = true;
  const EngineReport b = run_calibration(model, again, o);
  EXPECT_EQ(b.resumed_layers, 3);
  EXPECT_EQ(again.trace.count(2), 0u);  // layers 0..2 were not recomputed
  expect_same(a.result, b.result);
  // A different run's state is refused.
  class Other : public RoundingQuantizer {
    std::string fingerprint() const override { return "other"; }
  } other;
  EXPECT_THROW(run_calibration(model, other, o), Error);
}

TEST(CalibrationEngine, SpilledActivationsGiveIdenticalResults) {
  const auto model = tiny("tiny_llama.gguf");
  RoundingQuantizer ram, disk;
  const EngineReport a = run_calibration(model, ram, small_run(test::temp_dir() + "/ram"));
  EngineOptions o = small_run(test::temp_dir() + "/disk");
  o.max_memory = 1024;  // far below the activations
  const EngineReport b = run_calibration(model, disk, o);
  EXPECT_FALSE(a.spilled);
  EXPECT_TRUE(b.spilled);
  expect_same(a.result, b.result);
  EXPECT_GT(b.peak_rss, 0u);
}

TEST(CalibrationEngine, LayerFilesStreamWhatGatheringMerges) {
  const auto model = tiny("tiny_llama.gguf");
  RoundingQuantizer q1, q2;
  const EngineReport merged = run_calibration(model, q1, small_run(test::temp_dir() + "/merged"));
  EngineOptions o = small_run(test::temp_dir() + "/files");
  o.gather_results = false;
  const EngineReport rep = run_calibration(model, q2, o);
  EXPECT_TRUE(rep.result.matrices.empty());
  ASSERT_EQ(rep.layer_files.size(), static_cast<size_t>(model->config().n_layer));
  const LayerResultFiles files(rep.layer_files);
  EXPECT_EQ(files.summary().replaced, merged.result.replaced);
  EXPECT_EQ(files.summary().reports.size(), merged.result.reports.size());
  EXPECT_TRUE(files.summary().matrices.empty());
  ASSERT_EQ(files.matrix_shapes().size(), merged.result.matrices.size());
  // Read back in an order that switches layers every time: each is the merged one.
  for (const auto& [name, shape] : files.matrix_shapes()) {
    EXPECT_TRUE(shape.codes.empty()) << name;
    const QuantizedMatrix* m = files.matrix(name);
    ASSERT_NE(m, nullptr) << name;
    const QuantizedMatrix& want = merged.result.matrices.at(name);
    EXPECT_EQ(m->rows, want.rows);
    EXPECT_EQ(m->codes, want.codes) << name;
    EXPECT_EQ(m->scales, want.scales) << name;
  }
  EXPECT_EQ(files.matrix("blk.0.no_such.weight"), nullptr);
  EXPECT_EQ(files.block("blk.0.attn_q.weight"), nullptr);
  // Without a state directory the files would vanish with the run.
  EngineOptions t = small_run("");
  t.gather_results = false;
  RoundingQuantizer q3;
  EXPECT_THROW(run_calibration(model, q3, t), Error);
}

TEST(ActivationStore, FileAndRamHoldTheSameSamples) {
  const std::string f = test::temp_dir() + "/acts.bin";
  ActivationStore ram(3, 4, 5), file(3, 4, 5, f);
  EXPECT_TRUE(file.spilled());
  std::vector<float> v(20), w(20);
  for (int64_t s = 0; s < 3; ++s) {
    for (int i = 0; i < 20; ++i) v[i] = static_cast<float>(s * 100 + i) * 0.25f;
    ram.write(s, v.data());
    file.write(s, v.data());
  }
  for (int64_t s = 0; s < 3; ++s) {
    ram.read(s, v.data());
    file.read(s, w.data());
    EXPECT_EQ(v, w);
  }
  const std::string snap = test::temp_dir() + "/snap.bin";
  ram.save(snap);
  ActivationStore back(3, 4, 5);
  back.load(snap);
  back.read(2, w.data());
  ram.read(2, v.data());
  EXPECT_EQ(v, w);
  ActivationStore wrong(2, 4, 5);
  EXPECT_THROW(wrong.load(snap), Error);
}

TEST(LayerResult, SaveLoadRoundTrip) {
  LayerResult r;
  QuantSpec spec;
  spec.bits = 3;
  spec.symmetric = false;
  spec.method = ScaleMethod::MinMax;
  spec.group_size = 8;
  std::vector<float> w(4 * 16);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i));
  r.matrices.emplace("blk.0.attn_q.weight", quantize_matrix(w.data(), 4, 16, spec));
  r.blocks["blk.0.ffn_up.weight"] = {GGMLType::Q8_0, {1, 2, 3}};
  r.replaced["blk.0.attn_norm.weight"] = {1.5f, -2.f};
  r.input_scales["blk.0.attn_q.weight"] = 0.125f;
  r.reports.push_back({"blk.0.attn_q.weight", "gptq", 0.01, 0.02});
  const std::string p = test::temp_dir() + "/layer.bin";
  r.save(p);
  const LayerResult b = LayerResult::load(p);
  expect_same(r, b);
  EXPECT_EQ(b.matrices.at("blk.0.attn_q.weight").zeros, r.matrices.at("blk.0.attn_q.weight").zeros);
  EXPECT_EQ(b.blocks.at("blk.0.ffn_up.weight").bytes, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(b.input_scales, r.input_scales);
  EXPECT_DOUBLE_EQ(b.reports[0].rel_error_rtn, 0.02);
  // A damaged file is refused with the file named.
  std::string bytes = test::read_file(p);
  bytes.resize(bytes.size() / 2);
  FILE* f = std::fopen(p.c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  EXPECT_THROW(LayerResult::load(p), Error);
}

TEST(ByteSize, Parses) {
  EXPECT_EQ(parse_byte_size("512M", "x"), 512ull << 20);
  EXPECT_EQ(parse_byte_size("2G", "x"), 2ull << 30);
  EXPECT_EQ(parse_byte_size("1000", "x"), 1000ull);
  EXPECT_THROW(parse_byte_size("12Q", "x"), Error);
  EXPECT_THROW(parse_byte_size("-1G", "x"), Error);
}

}  // namespace
