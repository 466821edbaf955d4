// Importance matrices: accumulation, the GGUF and legacy .dat formats, and bad files.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "squish/common/error.h"
#include "squish/io/gguf_reader.h"
#include "squish/quant/imatrix.h"
#include "test_support.h"

namespace squish {
namespace {

ImportanceMatrix sample() {
  ImportanceMatrix m;
  const float x[2 * 3] = {1, -2, 3, 3, 0, -1};
  m.accumulate("blk.0.attn_q.weight", x, 2, 3);
  m.accumulate("blk.0.attn_q.weight", x + 3, 1, 3);
  const float y[4] = {0.5f, 0.25f, 2, 4};
  m.accumulate("blk.1.ffn_down.weight", y, 1, 4);
  m.datasets = {"calibration-mix.txt"};
  m.chunk_count = 3;
  m.chunk_size = 512;
  return m;
}

TEST(Imatrix, AccumulatesMeanOfSquares) {
  const ImportanceMatrix m = sample();
  const auto& e = m.entries.at("blk.0.attn_q.weight");
  EXPECT_EQ(e.counts, std::vector<int64_t>{3});
  EXPECT_EQ(e.sum2, (std::vector<double>{1 + 9 + 9, 4 + 0 + 0, 9 + 1 + 1}));
  EXPECT_EQ(e.sum, (std::vector<double>{1 + 3 + 3, -2, 3 - 1 - 1}));
  const auto imp = m.importance("blk.0.attn_q.weight");
  ASSERT_EQ(imp.size(), 3u);
  EXPECT_FLOAT_EQ(imp[0], 19.f / 3);
  EXPECT_FLOAT_EQ(imp[1], 4.f / 3);
  EXPECT_TRUE(m.importance("blk.9.attn_q.weight").empty());
  ImportanceMatrix bad = sample();
  const float z[2] = {1, 2};
  EXPECT_THROW(bad.accumulate("blk.0.attn_q.weight", z, 1, 2), Error);
}

TEST(Imatrix, GGUFFormatAsLlamaCppWritesIt) {
  const ImportanceMatrix m = sample();
  const std::string path = test::temp_dir() + "/im.gguf";
  m.save_gguf(path, false);
  EXPECT_THROW(m.save_gguf(path, false), Error);  // never overwrites without asking
  GGUFFile f(path);
  EXPECT_EQ(f.get_string("general.type"), "imatrix");
  EXPECT_EQ(f.get_int("imatrix.chunk_count"), 3);
  EXPECT_EQ(f.get_int("imatrix.chunk_size"), 512);
  EXPECT_EQ(f.get_array("imatrix.datasets").items.at(0).as_string(), "calibration-mix.txt");
  const GGUFTensor& s2 = f.tensor("blk.0.attn_q.weight.in_sum2");
  EXPECT_EQ(s2.type, GGMLType::F32);
  EXPECT_EQ(s2.shape, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(reinterpret_cast<const float*>(s2.data)[0], 19.f);
  const GGUFTensor& c = f.tensor("blk.0.attn_q.weight.counts");
  EXPECT_EQ(c.shape, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(reinterpret_cast<const float*>(c.data)[0], 3.f);
  EXPECT_NE(f.find_tensor("blk.0.attn_q.weight.in_sum"), nullptr);

  const ImportanceMatrix back = ImportanceMatrix::load(path);
  EXPECT_EQ(back.chunk_count, 3u);
  EXPECT_EQ(back.datasets, m.datasets);
  ASSERT_EQ(back.entries.size(), 2u);
  for (const auto& [name, e] : m.entries) EXPECT_EQ(back.importance(name), m.importance(name)) << name;
}

TEST(Imatrix, LegacyDatFormatRoundTrips) {
  const ImportanceMatrix m = sample();
  const std::string path = test::temp_dir() + "/im.dat";
  m.save_legacy(path, false);
  // Layout: n_entries, then per entry len/name/ncall/nval/values, then chunk count and dataset.
  const std::string raw = test::read_file(path);
  int32_t n;
  std::memcpy(&n, raw.data(), 4);
  EXPECT_EQ(n, 2);
  const ImportanceMatrix back = ImportanceMatrix::load(path);
  EXPECT_EQ(back.chunk_count, 3u);
  EXPECT_EQ(back.datasets, m.datasets);
  for (const auto& [name, e] : m.entries) {
    const auto a = m.importance(name), b = back.importance(name);
    ASSERT_EQ(a.size(), b.size());
    for (size_t j = 0; j < a.size(); ++j) EXPECT_FLOAT_EQ(a[j], b[j]) << name << " " << j;
  }
}

TEST(Imatrix, BadFilesGiveErrorsNamingTheFile) {
  const std::string dir = test::temp_dir();
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
    return dir + "/" + name;
  };
  const std::string absurd = write("absurd.dat", std::string("\xff\xff\xff\x7f", 4));
  try {
    ImportanceMatrix::load(absurd);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), absurd);
  }
  // One entry whose value count runs past the end of the file.
  std::string trunc(4, '\0');
  trunc[0] = 1;
  trunc += std::string("\x01\0\0\0", 4) + "x" + std::string("\x01\0\0\0", 4) +
           std::string("\x00\x00\x00\x10", 4);
  EXPECT_THROW(ImportanceMatrix::load(write("trunc.dat", trunc)), Error);
  EXPECT_THROW(ImportanceMatrix::load(write("empty.dat", "")), Error);
  EXPECT_THROW(ImportanceMatrix::load(dir + "/missing.dat"), Error);
  // A GGUF file without imatrix tensors (a model).
  EXPECT_THROW(ImportanceMatrix::load(test::smollm2_path()), Error);
}

}  // namespace
}  // namespace squish
