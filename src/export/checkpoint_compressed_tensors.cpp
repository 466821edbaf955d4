// compressed-tensors adapter: pack-quantized INTk (weight_packed int32 dense bit stream, offset
// +2^(k-1) for symmetric codes, weight_scale, packed weight_zero_point, weight_shape, weight_g_idx),
// int-quantized W8A8 (int8 weight + per-channel scale; dynamic per-token or static input_scale) and
// float-quantized FP8 E4M3 — with the quantization_config compressed-tensors / vLLM read.
#include <cmath>
#include <set>

#include "checkpoint_adapter.h"
#include "squish/common/error.h"
#include "squish/formats/half.h"

namespace squish {

using ojson = nlohmann::ordered_json;

std::vector<int32_t> pack_dense_int32(const std::vector<uint32_t>& v, int bits) {
  std::vector<int32_t> out((v.size() * bits + 31) / 32, 0);
  for (size_t i = 0; i < v.size(); ++i) {
    const uint64_t bit = i * static_cast<uint64_t>(bits);
    const uint64_t word = bit / 32, off = bit % 32;
    const uint64_t val = static_cast<uint64_t>(v[i]) << off;
    out[word] = static_cast<int32_t>(static_cast<uint32_t>(out[word]) | static_cast<uint32_t>(val));
    if (off + bits > 32)
      out[word + 1] =
          static_cast<int32_t>(static_cast<uint32_t>(out[word + 1]) | static_cast<uint32_t>(val >> 32));
  }
  return out;
}

namespace {

// Which compressed-tensors format a matrix goes into.
enum class CTKind { Packed, Int8, Fp8 };

class CompressedTensorsAdapter : public CheckpointAdapter {
 public:
  explicit CompressedTensorsAdapter(const CheckpointOptions& opt)
      : opt_(opt), scale_dtype_(checkpoint_dtype(opt.dtype)) {}

  CTKind kind(const QuantSpec& s) const {
    if (s.format == ElementFormat::FP8_E4M3) return CTKind::Fp8;
    if (s.format == ElementFormat::Int && s.bits == 8 && opt_.activations != ActivationQuant::None)
      return CTKind::Int8;
    if (s.format == ElementFormat::Int) return CTKind::Packed;
    throw Error(opt_.out_dir, "compressed-tensors cannot store " + describe(s));
  }

  void check(const QuantizedLinear& l) const override {
    const QuantSpec& s = l.q->spec;
    const CTKind k = kind(s);
    if (s.double_quant) throw Error(opt_.out_dir, l.module + ": double-quantized scales are not supported");
    if (s.granularity == Granularity::PerToken)
      throw Error(opt_.out_dir, l.module + ": per-token weight granularity is not supported");
    if (k != CTKind::Packed && s.granularity == Granularity::PerGroup)
      throw Error(opt_.out_dir, l.module + ": W8A8/FP8 need per-channel or per-tensor weight scales");
    if (opt_.activations != ActivationQuant::None && k == CTKind::Packed)
      throw Error(opt_.out_dir, l.module + ": activation quantization needs 8-bit weights");
    if (opt_.activations == ActivationQuant::StaticPerTensor && !opt_.input_scales.count(l.gguf_name))
      throw Error(opt_.out_dir, l.module + ": static activations but no input scale");
    if (!s.symmetric && k != CTKind::Packed)
      throw Error(opt_.out_dir, l.module + ": asymmetric W8A8 is not supported");
  }

  void add(SafeTensorsWriter& w, const QuantizedLinear& l) const override {
    const QuantizedMatrix& q = *l.q;
    const QuantSpec& s = q.spec;
    const int64_t ng = static_cast<int64_t>(q.scales.size()) / std::max<int64_t>(q.rows, 1);
    std::vector<int64_t> scale_shape;
    if (s.granularity == Granularity::PerTensor) scale_shape = {1};
    else scale_shape = {q.rows, s.granularity == Granularity::PerChannel ? 1 : ng};
    const CTKind k = kind(s);
    if (k == CTKind::Packed) {
      const int offset = s.symmetric ? 1 << (s.bits - 1) : 0;
      std::vector<uint32_t> u(q.codes.size());
      for (size_t i = 0; i < u.size(); ++i) u[i] = static_cast<uint32_t>(q.codes[i] + offset);
      // Pack row by row (each row padded to whole words, as pack_to_int32 does).
      const int64_t words = (q.cols * s.bits + 31) / 32;
      std::vector<int32_t> packed;
      packed.reserve(static_cast<size_t>(q.rows * words));
      for (int64_t r = 0; r < q.rows; ++r) {
        std::vector<uint32_t> row(u.begin() + r * q.cols, u.begin() + (r + 1) * q.cols);
        const auto p = pack_dense_int32(row, s.bits);
        packed.insert(packed.end(), p.begin(), p.end());
      }
      w.add({l.module + ".weight_packed", STDType::I32, {q.rows, words}, to_bytes(packed)});
      w.add_f32(l.module + ".weight_scale", scale_dtype_, scale_shape, q.scales.data());
      w.add({l.module + ".weight_shape", STDType::I64, {2}, to_bytes(std::vector<int64_t>{q.rows, q.cols})});
      if (!s.symmetric) {
        // Zero points: [rows, groups] packed along dim 0 -> [ceil(rows*bits/32), groups].
        const int64_t g = scale_shape.size() == 2 ? scale_shape[1] : 1;
        const int64_t zw = (q.rows * s.bits + 31) / 32;
        std::vector<int32_t> zp(static_cast<size_t>(zw * g));
        for (int64_t c = 0; c < g; ++c) {
          std::vector<uint32_t> col(static_cast<size_t>(q.rows));
          for (int64_t r = 0; r < q.rows; ++r)
            col[r] = static_cast<uint32_t>(std::lround(q.zeros[r * g + c]));
          const auto p = pack_dense_int32(col, s.bits);
          for (int64_t i = 0; i < zw; ++i) zp[i * g + c] = p[i];
        }
        w.add({l.module + ".weight_zero_point", STDType::I32, {zw, g}, to_bytes(zp)});
      }
      if (!q.g_idx.empty())
        w.add({l.module + ".weight_g_idx", STDType::I32, {q.cols}, to_bytes(q.g_idx)});
      return;
    }
    STOutTensor t;
    t.name = l.module + ".weight";
    t.shape = {q.rows, q.cols};
    t.dtype = k == CTKind::Int8 ? STDType::I8 : STDType::F8_E4M3;
    t.data.resize(q.codes.size());
    for (size_t i = 0; i < q.codes.size(); ++i) t.data[i] = static_cast<uint8_t>(q.codes[i] & 0xff);
    w.add(std::move(t));
    w.add_f32(l.module + ".weight_scale", scale_dtype_, scale_shape, q.scales.data());
    if (opt_.activations == ActivationQuant::StaticPerTensor) {
      const float is = opt_.input_scales.at(l.gguf_name);
      w.add_f32(l.module + ".input_scale", scale_dtype_, {1}, &is);
    }
  }

  ojson args(const QuantSpec& s) const {
    ojson a;
    const CTKind k = kind(s);
    a["num_bits"] = k == CTKind::Packed ? s.bits : 8;
    a["type"] = k == CTKind::Fp8 ? "float" : "int";
    a["symmetric"] = s.symmetric;
    a["group_size"] = s.granularity == Granularity::PerGroup ? ojson(s.group_size) : ojson(nullptr);
    a["strategy"] = s.granularity == Granularity::PerGroup     ? "group"
                    : s.granularity == Granularity::PerChannel ? "channel"
                                                               : "tensor";
    a["block_structure"] = nullptr;
    a["dynamic"] = false;
    a["actorder"] = nullptr;
    a["observer"] = "minmax";
    a["observer_kwargs"] = ojson::object();
    return a;
  }

  ojson config(const std::vector<QuantizedLinear>& ls,
               const std::vector<std::string>& unquantized) const override {
    // One config group per distinct (spec, act-order) combination.
    std::map<std::string, std::vector<const QuantizedLinear*>> groups;
    for (const auto& l : ls) groups[describe(l.q->spec) + (l.q->g_idx.empty() ? "" : "/actorder")].push_back(&l);
    ojson cg = ojson::object();
    std::string format;
    int gi = 0;
    for (const auto& [key, members] : groups) {
      const QuantSpec& s = members.front()->q->spec;
      ojson g;
      if (groups.size() == 1) {
        g["targets"] = {"Linear"};
      } else {
        ojson t = ojson::array();
        for (const auto* m : members) t.push_back(m->module);
        g["targets"] = t;
      }
      ojson wa = args(s);
      if (!members.front()->q->g_idx.empty()) wa["actorder"] = "group";
      g["weights"] = wa;
      const CTKind k = kind(s);
      if (opt_.activations != ActivationQuant::None) {
        ojson ia;
        ia["num_bits"] = 8;
        ia["type"] = k == CTKind::Fp8 ? "float" : "int";
        ia["symmetric"] = true;
        ia["group_size"] = nullptr;
        ia["strategy"] = opt_.activations == ActivationQuant::DynamicPerToken ? "token" : "tensor";
        ia["block_structure"] = nullptr;
        ia["dynamic"] = opt_.activations == ActivationQuant::DynamicPerToken;
        ia["actorder"] = nullptr;
        ia["observer"] = opt_.activations == ActivationQuant::DynamicPerToken ? ojson(nullptr) : ojson("minmax");
        ia["observer_kwargs"] = ojson::object();
        g["input_activations"] = ia;
      } else {
        g["input_activations"] = nullptr;
      }
      g["output_activations"] = nullptr;
      const std::string f = k == CTKind::Packed ? "pack-quantized"
                            : k == CTKind::Int8 ? "int-quantized"
                                                : "float-quantized";
      g["format"] = f;
      format = groups.size() == 1 ? f : "mixed-precision";
      cg["group_" + std::to_string(gi++)] = g;
    }
    ojson c;
    c["config_groups"] = cg;
    c["format"] = format;
    c["global_compression_ratio"] = nullptr;
    c["ignore"] = unquantized;
    if (opt_.kv_cache == KvCacheScheme::None) {
      c["kv_cache_scheme"] = nullptr;
    } else {
      ojson kv;
      kv["num_bits"] = 8;
      kv["type"] = opt_.kv_cache == KvCacheScheme::Fp8 ? "float" : "int";
      kv["symmetric"] = true;
      kv["group_size"] = nullptr;
      kv["strategy"] = "tensor";
      kv["block_structure"] = nullptr;
      kv["dynamic"] = false;
      kv["actorder"] = nullptr;
      kv["observer"] = "minmax";
      kv["observer_kwargs"] = ojson::object();
      c["kv_cache_scheme"] = kv;
    }
    c["quant_method"] = "compressed-tensors";
    c["quantization_status"] = "compressed";
    for (const auto& [k, v] : opt_.notes) c["squish_" + k] = v;
    return c;
  }

 private:
  CheckpointOptions opt_;
  STDType scale_dtype_;
};

}  // namespace

std::unique_ptr<CheckpointAdapter> make_compressed_tensors_adapter(const CheckpointOptions& opt) {
  return std::make_unique<CompressedTensorsAdapter>(opt);
}

}  // namespace squish
