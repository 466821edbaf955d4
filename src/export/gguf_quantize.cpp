#include "squish/export/gguf_quantize.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/common/progress.h"
#include "squish/export/model_source.h"
#include "squish/formats/half.h"
#include "squish/formats/quantize.h"
#include "squish/io/gguf_writer.h"
#include "squish/quant/imatrix.h"
#include "squish/quant/type_mix.h"

namespace squish {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // ggml's GGML_QNT_VERSION
constexpr int64_t kPieceElements = int64_t{1} << 22;  // rows converted per progress step

int64_t meta_int(const ModelSource& s, const std::string& key, int64_t fallback) {
  const GGUFValue* v = s.find(key);
  if (!v) return fallback;
  if (v->type == GGUFValueType::ARRAY) {  // per-layer arrays (head_count_kv): take the maximum
    int64_t best = fallback;
    for (const auto& item : v->as_array().items)
      if (item.is_integer()) best = std::max(best, item.as_int());
    return best;
  }
  if (!v->is_integer()) throw Error(s.path(), "metadata key '" + key + "' is not an integer");
  return v->as_int();
}

MixModelInfo model_info(const ModelSource& s) {
  const GGUFValue* a = s.find("general.architecture");
  if (!a || a->type != GGUFValueType::STRING)
    throw Error(s.path(), "missing metadata key 'general.architecture'");
  MixModelInfo m;
  m.arch = a->as_string();
  m.n_layer = meta_int(s, m.arch + ".block_count", 0);
  if (m.n_layer <= 0) throw Error(s.path(), "missing metadata key '" + m.arch + ".block_count'");
  m.n_head = meta_int(s, m.arch + ".attention.head_count", 1);
  m.n_head_kv = meta_int(s, m.arch + ".attention.head_count_kv", m.n_head);
  m.n_expert = meta_int(s, m.arch + ".expert_count", 0);
  m.is_70b = m.arch == "llama" && m.n_layer == 80 && m.n_head != m.n_head_kv;
  return m;
}

void check_not_same_file(const std::string& in, const std::string& out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  bool same = fs::exists(out, ec) && fs::equivalent(in, out, ec);
  if (!same) same = fs::weakly_canonical(in, ec) == fs::weakly_canonical(out, ec);
  if (same) throw Error(out, "output is the same file as the input");
}

// Encodes F32 rows into `to` (plain conversions here, block types through quantize_row).
void encode_rows(GGMLType to, const float* src, uint8_t* dst, int64_t n_rows, int64_t cols,
                 const float* importance, int64_t rows_per_matrix, int64_t first_row) {
  const size_t rb = row_bytes(to, cols);
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* x = src + r * cols;
    uint8_t* y = dst + static_cast<size_t>(r) * rb;
    switch (to) {
      case GGMLType::F32:
        std::memcpy(y, x, rb);
        break;
      case GGMLType::F16:
        for (int64_t j = 0; j < cols; ++j) {
          const uint16_t h = fp32_to_fp16(x[j]);
          std::memcpy(y + 2 * j, &h, 2);
        }
        break;
      case GGMLType::BF16:
        for (int64_t j = 0; j < cols; ++j) {
          const uint16_t h = fp32_to_bf16(x[j]);
          std::memcpy(y + 2 * j, &h, 2);
        }
        break;
      default: {
        const float* imp = nullptr;
        if (importance) imp = importance + ((first_row + r) / rows_per_matrix) * cols;
        quantize_row(to, x, y, cols, imp);
      }
    }
  }
}

// One warning per kind of fallback (llama.cpp prints one per tensor; models have dozens).
std::vector<std::string> summarize_fallbacks(const std::vector<MixTensor>& mix,
                                             const std::vector<MixChoice>& choice) {
  std::vector<std::string> out;
  std::vector<bool> done(mix.size(), false);
  for (size_t i = 0; i < mix.size(); ++i) {
    if (!choice[i].fell_back || done[i]) continue;
    const std::string prefix = choice[i].warning.substr(choice[i].warning.find(':'));
    size_t n = 0;
    for (size_t j = i; j < mix.size(); ++j)
      if (choice[j].fell_back && !done[j] &&
          choice[j].warning.substr(choice[j].warning.find(':')) == prefix) {
        done[j] = true;
        ++n;
      }
    out.push_back(n == 1 ? choice[i].warning
                         : mix[i].name + " and " + std::to_string(n - 1) + " more tensors" + prefix);
  }
  return out;
}

// llama.cpp's type choice for every tensor of the source (mix: the rules' view of the tensors).
std::vector<MixChoice> mix_choices(const ModelSource& source, const QuantizeOptions& opt,
                                   std::vector<MixTensor>* mix) {
  const MixModelInfo info = model_info(source);
  for (const auto& t : source.tensors()) mix->push_back({t.name, t.shape, t.type});
  MixOptions mo;
  mo.ftype = opt.ftype;
  mo.leave_output_tensor = opt.leave_output_tensor;
  mo.pure = opt.pure;
  mo.has_imatrix = opt.imatrix != nullptr;
  return choose_tensor_types(info, *mix, mo);
}

}  // namespace

std::map<std::string, GGMLType> gguf_tensor_types(const ModelSource& source, const QuantizeOptions& opt) {
  std::vector<MixTensor> mix;
  const std::vector<MixChoice> choice = mix_choices(source, opt, &mix);
  std::map<std::string, GGMLType> out;
  for (size_t i = 0; i < mix.size(); ++i) out[mix[i].name] = choice[i].type;
  return out;
}

QuantizeReport quantize_to_gguf(const ModelSource& source, const std::string& out_path,
                                const QuantizeOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  check_not_same_file(source.path(), out_path);
  QuantizeReport report;
  report.input_bytes = source.input_bytes();

  const auto& tensors = source.tensors();
  std::vector<MixTensor> mix;
  const std::vector<MixChoice> choice = mix_choices(source, opt, &mix);
  auto warn = [&](const std::string& w) {
    report.warnings.push_back(w);
    if (opt.on_warning) opt.on_warning(w);
  };
  for (const auto& w : summarize_fallbacks(mix, choice)) warn(w);

  for (size_t i = 0; i < tensors.size(); ++i) {
    const GGMLType to = choice[i].type;
    if (to != tensors[i].type && type_traits(to).quantized && !can_quantize(to))
      throw Error(source.path(), "squish cannot quantize to " + type_name(to) + " yet (tensor '" +
                                     tensors[i].name + "')");
  }

  // Importance per tensor (looked up and validated before any long work starts).
  std::vector<std::vector<float>> importance(tensors.size());
  if (opt.imatrix) {
    for (size_t i = 0; i < tensors.size(); ++i) {
      const GGMLType to = choice[i].type;
      if (to == tensors[i].type || !type_traits(to).quantized || !uses_importance(to)) continue;
      std::vector<float> imp = opt.imatrix->importance(tensors[i].name);
      const int64_t n_mat = tensors[i].shape.size() > 2 ? tensors[i].shape[2] : 1;
      if (imp.empty()) {
        warn(tensors[i].name + ": no importance data in the imatrix");
        continue;
      }
      if (static_cast<int64_t>(imp.size()) != tensors[i].shape[0] * n_mat) {
        if (tensors[i].name == "token_embd.weight") continue;
        throw Error(opt.imatrix_path, "imatrix entry '" + tensors[i].name + "' has " +
                                          std::to_string(imp.size()) + " values, the tensor needs " +
                                          std::to_string(tensors[i].shape[0] * n_mat));
      }
      importance[i] = std::move(imp);
    }
  }

  // Header: metadata carried over, then the mix's markers.
  GGUFWriter writer;
  for (const auto& [k, v] : source.metadata()) writer.set(k, v);
  for (const char* k : {"split.no", "split.count", "split.tensors.count"}) writer.remove(k);
  writer.set("general.quantization_version", gguf_u32(kQuantizationVersion));
  writer.set("general.file_type", gguf_u32(static_cast<uint32_t>(opt.ftype)));
  const std::vector<size_t> order = llama_tensor_order(mix);
  int64_t total_elements = 0;
  for (size_t i : order) {
    writer.add_tensor(tensors[i].name, choice[i].type, tensors[i].shape);
    total_elements += tensors[i].n_elements();
  }

  writer.begin(out_path, opt.overwrite);
  Progress progress("quantize " + file_type_name(opt.ftype), total_elements);
  std::vector<uint8_t> out_buf;
  for (size_t i : order) {
    const SourceTensor& t = tensors[i];
    const GGMLType to = choice[i].type;
    QuantizedTensor qt{t.name, t.type, to, 0, 0, static_cast<uint64_t>(t.n_elements()), !importance[i].empty()};
    const int64_t cols = t.shape[0], rows = t.n_rows();
    qt.bytes_out = static_cast<uint64_t>(rows) * row_bytes(to, cols);
    qt.bytes_in = can_dequantize(t.type) || t.type == GGMLType::F32
                      ? static_cast<uint64_t>(rows) * row_bytes(t.type, cols) : 0;
    const uint8_t* raw = source.raw_data(i);
    const EncodedTensor* enc = opt.encoded ? opt.encoded(t.name) : nullptr;
    if (enc) {  // encoded by the calibration engine
      if (enc->type != to || enc->bytes.size() != qt.bytes_out)
        throw Error(out_path, "calibrated tensor " + t.name + " does not have the mix's type " + type_name(to));
      writer.write_data(enc->bytes.data(), enc->bytes.size());
      qt.used_gptq = true;
      progress.add(t.n_elements());
    } else if (to == t.type && raw) {
      writer.write_data(raw, qt.bytes_out);  // same type: bytes copied unchanged
      progress.add(t.n_elements());
    } else {
      const auto reader = source.rows_f32(i);
      const float* imp = importance[i].empty() ? nullptr : importance[i].data();
      const int64_t rows_per_matrix = t.shape.size() > 1 ? t.shape[1] : 1;
      const int64_t piece_rows = std::max<int64_t>(1, kPieceElements / cols);
      const size_t rb = row_bytes(to, cols);
      for (int64_t r0 = 0; r0 < rows; r0 += piece_rows) {
        const int64_t n = std::min(piece_rows, rows - r0);
        out_buf.resize(static_cast<size_t>(n) * rb);
        parallel_for(n, [&](int64_t b, int64_t e) {
          std::vector<float> f32(static_cast<size_t>((e - b) * cols));
          reader->read(r0 + b, e - b, f32.data());
          encode_rows(to, f32.data(), out_buf.data() + static_cast<size_t>(b) * rb, e - b, cols,
                      imp, rows_per_matrix, r0 + b);
        });
        writer.write_data(out_buf.data(), out_buf.size());
        progress.add(n * cols);
      }
    }
    report.tensors.push_back(std::move(qt));
  }
  progress.finish();
  writer.finish();
  report.output_bytes = std::filesystem::file_size(out_path);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace squish
