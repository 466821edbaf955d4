// `squish export MODEL OUT_DIR --format compressed-tensors|gptq|awq|unquantized [--bits 4 --group-size 128
// --asym --fp8 --w8a8]`: an HF SafeTensors checkpoint of the model with its decoder linears
// quantized by RTN (calibrated methods: `squish quantize --method`), or unquantized (the F32/BF16
// reference). --dequant-out writes the dequantized weights a loader must reconstruct.
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "command.h"
#include "squish/common/error.h"
#include "squish/export/checkpoint_writer.h"
#include "squish/export/model_source.h"

namespace squish::cli {
namespace {

struct ExportArgs {
  std::string model, out, format = "compressed-tensors", dtype = "bfloat16", tokenizer_from, dequant_out;
  int bits = 4;
  int64_t group_size = 128;  // 0: per channel, -1: per tensor
  bool asym = false, fp8 = false, w8a8 = false, force = false;
  double shard_mb = 2048;
};

bool is_decoder_linear(const std::string& n) {
  for (const char* s : {"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                        "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"}) {
    const std::string x = s;
    if (n.size() > x.size() && n.compare(n.size() - x.size(), x.size(), x) == 0) return true;
  }
  return false;
}

void run_export(const ExportArgs& a) {
  CheckpointOptions opt;
  opt.out_dir = a.out;
  opt.format = parse_checkpoint_format(a.format);
  opt.overwrite = a.force;
  opt.dtype = a.dtype;
  opt.tokenizer_from = a.tokenizer_from;
  opt.shard_bytes = static_cast<uint64_t>(a.shard_mb * 1024 * 1024);
  if (a.w8a8) opt.activations = ActivationQuant::DynamicPerToken;
  if (!a.force && std::filesystem::exists(a.out))
    throw Error(a.out, "already exists (use --force to overwrite)");
  const auto src = open_model_source(a.model);
  check_exportable(*src);
  std::map<std::string, QuantizedMatrix> quantized;
  if (opt.format != CheckpointFormat::Unquantized) {
    QuantSpec spec;
    spec.format = a.fp8 ? ElementFormat::FP8_E4M3 : ElementFormat::Int;
    spec.bits = a.fp8 || a.w8a8 ? 8 : a.bits;
    spec.symmetric = !a.asym;
    spec.method = a.asym ? ScaleMethod::MinMax : ScaleMethod::AbsMax;
    spec.granularity = a.group_size > 0    ? Granularity::PerGroup
                       : a.group_size == 0 ? Granularity::PerChannel
                                           : Granularity::PerTensor;
    spec.group_size = a.group_size > 0 ? a.group_size : 128;
    for (const SourceTensor& t : src->tensors()) {  // every shape checked before any work
      if (!is_decoder_linear(t.name)) continue;
      try {
        validate(spec, t.n_rows(), t.shape[0]);
      } catch (const std::invalid_argument& e) {
        throw squish::Error(a.model, t.name + ": " + e.what());
      }
    }
    for (size_t i = 0; i < src->tensors().size(); ++i) {
      const SourceTensor& t = src->tensors()[i];
      if (!is_decoder_linear(t.name)) continue;
      std::vector<float> w(static_cast<size_t>(t.n_elements()));
      src->rows_f32(i)->read(0, t.n_rows(), w.data());
      quantized.emplace(t.name, quantize_matrix(w.data(), t.n_rows(), t.shape[0], spec));
    }
  }
  write_checkpoint(*src, quantized, opt);
  if (!a.dequant_out.empty()) write_dequantized_reference(*src, quantized, opt, a.dequant_out);
  std::printf("wrote %s (%zu quantized linears)\n", a.out.c_str(), quantized.size());
}

CommandRegistrar reg(46, [](CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand("export", "Write an HF SafeTensors checkpoint (compressed-tensors, GPTQ, AWQ or unquantized)");
  add_model_argument(cmd, args->model, "GGUF file or HF model directory");
  cmd->add_option("out", args->out, "output HF directory")->required();
  cmd->add_option("--format", args->format, "compressed-tensors | gptq | awq | unquantized");
  cmd->add_option("--dtype", args->dtype, "dtype of unquantized tensors and scales: bfloat16 | float16 | float32");
  cmd->add_option("--bits", args->bits, "INT bits of the RTN weights (2..8)");
  cmd->add_option("--group-size", args->group_size, "group size; 0 = per channel, -1 = per tensor");
  cmd->add_flag("--asym", args->asym, "asymmetric (min-max) INT");
  cmd->add_flag("--fp8", args->fp8, "FP8 E4M3 weights");
  cmd->add_flag("--w8a8", args->w8a8, "INT8/FP8 weights with dynamic per-token activation quantization");
  cmd->add_option("--tokenizer-from", args->tokenizer_from, "HF directory to copy tokenizer files from");
  cmd->add_option("--dequant-out", args->dequant_out, "also write the dequantized F32 weights (HF names) here");
  cmd->add_option("--shard-mb", args->shard_mb, "shard size threshold in MiB");
  add_force_flag(cmd, args->force, "overwrite OUT");
  cmd->callback([args] { run_export(*args); });
});

}  // namespace
}  // namespace squish::cli
