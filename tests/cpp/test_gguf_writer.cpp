// GGUF writer: every metadata value type (nested arrays too), tensors of several types,
// alignment, and the atomic-output rules, checked by reading files back with squish's GGUFFile.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <numeric>

#include "squish/common/error.h"
#include "squish/io/gguf_reader.h"
#include "squish/io/gguf_writer.h"
#include "test_support.h"

namespace squish {
namespace {

namespace fs = std::filesystem;

GGUFValue typed(GGUFValueType t, uint64_t u) { return {t, u}; }
GGUFValue typed_i(GGUFValueType t, int64_t i) { return {t, i}; }

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

TEST(GGUFWriter, EveryValueTypeRoundTrips) {
  GGUFWriter w;
  w.set("u8", typed(GGUFValueType::UINT8, 250));
  w.set("i8", typed_i(GGUFValueType::INT8, -100));
  w.set("u16", typed(GGUFValueType::UINT16, 65000));
  w.set("i16", typed_i(GGUFValueType::INT16, -32000));
  w.set("u32", gguf_u32(4000000000u));
  w.set("i32", gguf_i32(-2000000000));
  w.set("u64", gguf_u64(~uint64_t{0} - 5));
  w.set("i64", typed_i(GGUFValueType::INT64, -(int64_t{1} << 60)));
  w.set("f32", gguf_f32(0.1f));
  w.set("f64", GGUFValue{GGUFValueType::FLOAT64, 0.1});
  w.set("bool", gguf_bool(true));
  w.set("str", gguf_str(std::string("h\xc3\xa9llo\0x", 8)));
  w.set("arr_str", gguf_array(GGUFValueType::STRING, {gguf_str("a"), gguf_str(""), gguf_str("ccc")}));
  w.set("arr_empty", gguf_array(GGUFValueType::INT32, {}));
  w.set("nested", gguf_array(GGUFValueType::ARRAY,
                             {gguf_array(GGUFValueType::INT32, {gguf_i32(1), gguf_i32(-2)}),
                              gguf_array(GGUFValueType::STRING, {gguf_str("x")})}));
  w.set("u32", gguf_u32(7));  // replacing keeps the position
  const std::string path = test::temp_dir() + "/kv.gguf";
  w.write_file(path, false, {});

  GGUFFile f(path);
  ASSERT_EQ(f.metadata().size(), 15u);
  EXPECT_EQ(f.metadata()[4].first, "u32");
  EXPECT_EQ(f.get_int("u8"), 250);
  EXPECT_EQ(f.get_int("i8"), -100);
  EXPECT_EQ(f.get_int("u16"), 65000);
  EXPECT_EQ(f.get_int("i16"), -32000);
  EXPECT_EQ(f.get_int("u32"), 7);
  EXPECT_EQ(f.get_int("i32"), -2000000000);
  EXPECT_EQ(std::get<uint64_t>(f.find("u64")->v), ~uint64_t{0} - 5);
  EXPECT_EQ(f.get_int("i64"), -(int64_t{1} << 60));
  EXPECT_EQ(f.find("f32")->type, GGUFValueType::FLOAT32);
  EXPECT_EQ(static_cast<float>(f.get_float("f32")), 0.1f);
  EXPECT_EQ(f.get_float("f64"), 0.1);
  EXPECT_TRUE(f.get_bool("bool", false));
  EXPECT_EQ(f.get_string("str"), std::string("h\xc3\xa9llo\0x", 8));
  const auto& as = f.get_array("arr_str");
  ASSERT_EQ(as.items.size(), 3u);
  EXPECT_EQ(as.items[2].as_string(), "ccc");
  EXPECT_EQ(f.get_array("arr_empty").elem_type, GGUFValueType::INT32);
  const auto& nested = f.get_array("nested");
  ASSERT_EQ(nested.items.size(), 2u);
  EXPECT_EQ(nested.items[0].as_array().items[1].as_int(), -2);
  EXPECT_EQ(nested.items[1].as_array().items[0].as_string(), "x");
  for (const auto& [k, v] : f.metadata()) EXPECT_EQ(v.type, w.find(k)->type) << k;
}

TEST(GGUFWriter, TensorsOfAnyTypeAtTheirAlignment) {
  for (uint64_t align : {32u, 64u, 256u}) {
    GGUFWriter w;
    w.set("general.architecture", gguf_str("llama"));
    if (align != 32) w.set("general.alignment", gguf_u32(static_cast<uint32_t>(align)));
    w.add_tensor("a", GGMLType::F32, {3});
    w.add_tensor("b", GGMLType::Q4_K, {256, 2});
    w.add_tensor("c", GGMLType::F16, {5, 3});
    w.add_tensor("d", GGMLType::Q8_0, {64, 1, 2});
    std::vector<std::vector<uint8_t>> data;
    for (const auto& t : w.tensors()) {
      std::vector<uint8_t> d(t.nbytes());
      std::iota(d.begin(), d.end(), static_cast<uint8_t>(t.name[0]));
      data.push_back(std::move(d));
    }
    const std::string path = test::temp_dir() + "/t.gguf";
    w.begin(path, false);
    for (const auto& d : data) {  // in two pieces each, as a streaming caller would
      w.write_data(d.data(), d.size() / 2);
      w.write_data(d.data() + d.size() / 2, d.size() - d.size() / 2);
    }
    w.finish();

    GGUFFile f(path);
    EXPECT_EQ(f.alignment(), align);
    EXPECT_EQ(f.data_offset() % align, 0u);
    ASSERT_EQ(f.tensors().size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
      const GGUFTensor& t = f.tensors()[i];
      EXPECT_EQ(t.name, w.tensors()[i].name);
      EXPECT_EQ(t.type, w.tensors()[i].type);
      EXPECT_EQ(t.shape, w.tensors()[i].shape);
      EXPECT_EQ(t.offset % align, 0u);
      ASSERT_EQ(t.nbytes, data[i].size());
      EXPECT_EQ(std::memcmp(t.data, data[i].data(), t.nbytes), 0) << t.name;
    }
    EXPECT_EQ(f.tensor("b").nbytes, 2u * 144u);
  }
}

TEST(GGUFWriter, RejectsBadTensorsAndValues) {
  GGUFWriter w;
  EXPECT_THROW(w.add_tensor("x", GGMLType::Q4_K, {100, 2}), Error);  // 100 % 256 != 0
  EXPECT_THROW(w.add_tensor("x", GGMLType::F32, {}), Error);
  EXPECT_THROW(w.add_tensor("x", GGMLType::F32, {0}), Error);
  w.add_tensor("x", GGMLType::F32, {4});
  EXPECT_THROW(w.add_tensor("x", GGMLType::F32, {4}), Error);
  GGUFWriter bad;
  bad.set("k", typed(GGUFValueType::UINT8, 300));
  EXPECT_THROW(bad.write_file(test::temp_dir() + "/bad.gguf", false, {}), Error);
  GGUFWriter mixed;
  mixed.set("k", gguf_array(GGUFValueType::INT32, {gguf_i32(1), gguf_str("no")}));
  EXPECT_THROW(mixed.write_file(test::temp_dir() + "/bad.gguf", false, {}), Error);
  GGUFWriter align;
  align.set("general.alignment", gguf_u32(24));
  EXPECT_THROW(align.write_file(test::temp_dir() + "/bad.gguf", false, {}), Error);
}

TEST(GGUFWriter, AtomicOutputRules) {
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/out.gguf";
  const float x[4] = {1, 2, 3, 4};
  auto make = [] {
    auto w = std::make_unique<GGUFWriter>();
    w->add_tensor("x", GGMLType::F32, {4});
    return w;
  };
  make()->write_file(path, false, {x});
  const std::string first = test::read_file(path);
  // An existing output is refused without overwrite and left untouched.
  try {
    make()->write_file(path, false, {x});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exists"), std::string::npos);
  }
  EXPECT_EQ(test::read_file(path), first);
  make()->write_file(path, true, {x});
  // Missing data: finish() fails and nothing is left behind, not even the temporary.
  const std::string p2 = dir + "/partial.gguf";
  {
    auto w = make();
    w->begin(p2, false);
    w->write_data(x, 8);
    EXPECT_THROW(w->finish(), Error);
  }
  EXPECT_FALSE(fs::exists(p2));
  EXPECT_EQ(dir_entries(dir), std::vector<std::string>{"out.gguf"});
  // A directory that does not exist.
  EXPECT_THROW(make()->write_file(dir + "/no/such/dir/x.gguf", false, {x}), Error);
}

}  // namespace
}  // namespace squish
