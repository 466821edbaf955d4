// HF SafeTensors checkpoint export: a model (GGUF file or HF directory) plus its quantized linear
// weights written as an HF model directory that transformers / vLLM / compressed-tensors load —
// GGUF names mapped back to HF names (llama q/k RoPE un-permuted, gemma3 norms −1), quantized
// weights packed by one adapter per format, config.json (+ quantization_config), tokenizer and
// generation_config files, sharded above a size threshold, written atomically.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "squish/export/model_source.h"
#include "squish/formats/number_formats.h"
#include "squish/io/safetensors.h"
#include "squish/quant/recipe.h"

namespace squish {

// Checkpoint layout of the quantized weights.
enum class CheckpointFormat {
  Unquantized,       // every tensor in its HF dtype (the F32/BF16 reference); `quantized` must be empty
  CompressedTensors, // compressed-tensors: pack-quantized INTk, int-quantized W8A8, float-quantized FP8
  Gptq,              // AutoGPTQ v1: qweight [in/8, out] int32, qzeros (zero − 1), scales, g_idx
  Awq,               // AutoAWQ GEMM: qweight [in, out/8] int32 interleaved, qzeros, scales
};

// Activation quantization recorded in the config (compressed-tensors W8A8 / FP8 only).
enum class ActivationQuant { None, DynamicPerToken, StaticPerTensor };

// How and where to write the checkpoint.
struct CheckpointOptions {
  std::string out_dir;                          // the HF directory to create
  CheckpointFormat format = CheckpointFormat::CompressedTensors;
  bool overwrite = false;                       // --force: replace an existing out_dir
  uint64_t shard_bytes = 2ull << 30;            // start a new model-XXXXX-of-YYYYY shard above this
  std::string dtype = "bfloat16";               // unquantized tensors / scales: bfloat16, float16, float32
  ActivationQuant activations = ActivationQuant::None;
  // Static per-tensor input scales by GGUF tensor name (ActivationQuant::StaticPerTensor).
  std::map<std::string, float> input_scales;
  // Free-form strings recorded in the quantization_config (e.g. {"method","gptq"}).
  std::map<std::string, std::string> notes;
  // Static KV-cache quantization (compressed-tensors only): kv_cache_scheme in the config and, per
  // attention module, k_scale / v_scale = calibrated max |K| / |V| over 448 (FP8 E4M3) or 127 (INT8),
  // from kv_absmax (by k / v projection GGUF name, as LayerResult::kv_absmax).
  KvCacheScheme kv_cache = KvCacheScheme::None;
  std::map<std::string, float> kv_absmax;
  // HF directory whose tokenizer files (tokenizer.json, tokenizer_config.json, special_tokens_map.json,
  // tokenizer.model, chat_template.jinja) are copied; "" = none (GGUF sources then get no tokenizer).
  std::string tokenizer_from;
  // Directory in which the checkpoint is assembled before it is renamed to out_dir (same file
  // system); "" = beside out_dir, as OUT.tmp-PID.
  std::string staging_dir;
};

// Quantized matrices by GGUF tensor name, fetched one at a time, so that a writer never holds
// more than one (e.g. read from the calibration engine's layer files).
struct QuantizedTensors {
  // Every matrix's spec, shape and g_idx by GGUF name (codes, scales and zeros may be empty).
  const std::map<std::string, QuantizedMatrix>* shapes = nullptr;
  // The whole matrix of a name in `shapes`; the pointer need only stay valid until the next call.
  std::function<const QuantizedMatrix*(const std::string&)> get;
};

// Throws Error naming the source when squish cannot write it as a SafeTensors checkpoint (a mixture
// of experts: unstacking ffn_*_exps into per-expert HF linears is not implemented).
void check_exportable(const ModelSource& src);

// Writes src with the weights in `quantized` (keyed by GGUF tensor name, e.g. "blk.0.attn_q.weight";
// rows × cols = [out, in] as in ggml) replaced by their quantized form. Tensors not in `quantized` are
// written in opt.dtype. Tensors stream through spool files in the output's temp directory, one at a
// time. Throws squish::Error naming the file and the problem (unsupported spec for the format,
// unknown architecture, existing out_dir without overwrite ...).
void write_checkpoint(const ModelSource& src, const QuantizedTensors& quantized, const CheckpointOptions& opt);
// The same for matrices held in memory.
void write_checkpoint(const ModelSource& src,
                      const std::map<std::string, QuantizedMatrix>& quantized,
                      const CheckpointOptions& opt);

// The dtype the checkpoint stores weight scales in: FP16 for GPTQ/AWQ, opt.dtype for compressed-tensors.
STDType stored_scale_dtype(const CheckpointOptions& opt);
// The matrix exactly as the checkpoint stores it (round_scales to stored_scale_dtype);
// dequantize_matrix() of it equals what a loader gets.
QuantizedMatrix stored_matrix(const QuantizedMatrix& q, const CheckpointOptions& opt);

// Writes one F32 SafeTensors file at `path` holding, under HF names ("….q_proj.weight", HF row
// order), the dequantized values of every stored_matrix() — what a loader of the checkpoint must
// reconstruct. For tests and audits.
void write_dequantized_reference(const ModelSource& src,
                                 const std::map<std::string, QuantizedMatrix>& quantized,
                                 const CheckpointOptions& opt, const std::string& path);

// Parses "compressed-tensors" | "gptq" | "awq" | "unquantized"; throws squish::Error otherwise.
CheckpointFormat parse_checkpoint_format(const std::string& name);

}  // namespace squish
