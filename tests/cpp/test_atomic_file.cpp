// AtomicFile and DirLock: nothing visible before commit, two writers of one target never both win,
// a directory lock excludes a second holder.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "squish/common/atomic_file.h"
#include "squish/common/dir_lock.h"
#include "squish/common/error.h"
#include "test_support.h"

namespace squish {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

TEST(AtomicFile, NothingVisibleBeforeCommit) {
  const std::string dir = test::temp_dir() + "/atomic_invisible";
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    AtomicFile f(dir + "/out.bin", false);
    f.write("abc", 3);
    EXPECT_TRUE(entries(dir).empty());  // an unnamed temporary (O_TMPFILE)
    f.commit();
  }
  EXPECT_EQ(entries(dir), std::vector<std::string>{"out.bin"});
  EXPECT_EQ(test::read_file(dir + "/out.bin"), "abc");
  {
    AtomicFile f(dir + "/dropped.bin", false);
    f.write("x", 1);
  }  // never committed
  EXPECT_EQ(entries(dir), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFile, SecondWriterOfOneTargetFails) {
  const std::string dir = test::temp_dir() + "/atomic_race";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = dir + "/out.bin";
  AtomicFile a(path, false), b(path, false);  // both start before either finishes
  a.write("first", 5);
  b.write("second", 6);
  a.commit();
  try {
    b.commit();
    FAIL() << "the second writer replaced the first's output";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another process wrote it meanwhile"), std::string::npos) << e.what();
  }
  EXPECT_EQ(test::read_file(path), "first");
  AtomicFile c(path, true);  // --force replaces
  c.write("third", 5);
  c.commit();
  EXPECT_EQ(test::read_file(path), "third");
  EXPECT_EQ(entries(dir), std::vector<std::string>{"out.bin"});
}

TEST(DirLock, SecondHolderIsRefused) {
  const std::string dir = test::temp_dir() + "/dir_lock";
  fs::remove_all(dir);
  {
    const DirLock first(dir, "writing x");
    EXPECT_TRUE(fs::is_directory(dir));
    try {
      const DirLock second(dir, "writing x");
      FAIL() << "two holders";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("another squish process is writing x"), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(fs::exists(dir));  // created by the lock and left empty: removed
  const DirLock again(dir, "writing x");
}

}  // namespace
}  // namespace squish
