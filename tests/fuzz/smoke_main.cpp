// A small mutation driver for the fuzz targets in the ordinary (GCC, Release) build, so CI runs every
// target on every submission without the clang/libFuzzer build: the seeds and regression inputs
// as they are, then mutations of them (bit flips, random bytes, inserted and erased ranges, copied
// chunks, dictionary tokens, boundary integers) for a fixed number of executions from a fixed
// random seed, so a failure reproduces. libFuzzer's flags are accepted where they mean the same:
//   fuzz_smoke_<target> -runs=N [-dict=FILE]... [-seed=S] DIR_OR_FILE...
// A crash, a sanitizer abort or an exception other than squish::Error (fuzz_support.h) kills the
// process; the input that did it is written to ./smoke-crash-<pid> first.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Optional, as in libFuzzer: called once before the first input when a target defines it.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

using Bytes = std::vector<uint8_t>;
constexpr size_t kMaxLen = 16384;  // bench/fuzz.sh's -max_len

Bytes current;  // the input being run (written out if it kills the process)

void write_current_and_die(int sig) {
  char name[64];
  std::snprintf(name, sizeof name, "smoke-crash-%d", static_cast<int>(getpid()));
  const int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    (void)!write(fd, current.data(), current.size());
    close(fd);
  }
  static const char msg[] = "fuzz smoke: the input that failed is in ./smoke-crash-<pid>\n";
  (void)!write(2, msg, sizeof msg - 1);
  signal(sig, SIG_DFL);
  raise(sig);
}

Bytes read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// One token of a libFuzzer dictionary line (name="value" or "value"; \\, \" and \xNN escapes).
bool parse_dict_line(const std::string& line, Bytes& token) {
  const size_t open_quote = line.find('"');
  const size_t close_quote = line.rfind('"');
  if (line.empty() || line[0] == '#' || open_quote == std::string::npos || close_quote <= open_quote) return false;
  token.clear();
  for (size_t i = open_quote + 1; i < close_quote; ++i) {
    if (line[i] != '\\' || i + 1 >= close_quote) {
      token.push_back(static_cast<uint8_t>(line[i]));
    } else if (line[i + 1] == 'x' && i + 3 < close_quote) {
      token.push_back(static_cast<uint8_t>(std::stoi(line.substr(i + 2, 2), nullptr, 16)));
      i += 3;
    } else {
      token.push_back(static_cast<uint8_t>(line[++i]));
    }
  }
  return !token.empty();
}

struct Mutator {
  std::mt19937_64 rng;
  std::vector<Bytes> dict;

  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); }

  void mutate(Bytes& b, const std::vector<Bytes>& corpus) {
    const int steps = 1 + static_cast<int>(below(4));
    for (int s = 0; s < steps; ++s) {
      switch (below(dict.empty() ? 7 : 8)) {
        case 0:  // flip a bit
          if (!b.empty()) b[below(b.size())] ^= static_cast<uint8_t>(1u << below(8));
          break;
        case 1:  // a random byte
          if (!b.empty()) b[below(b.size())] = static_cast<uint8_t>(rng());
          break;
        case 2: {  // insert random bytes
          const size_t at = below(b.size() + 1), n = 1 + below(8);
          for (size_t i = 0; i < n; ++i) b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), static_cast<uint8_t>(rng()));
          break;
        }
        case 3: {  // erase a range
          if (b.empty()) break;
          const size_t at = below(b.size()), n = 1 + below(std::min<size_t>(b.size() - at, 64));
          b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
          break;
        }
        case 4: {  // copy a chunk of another input over this one
          const Bytes& other = corpus[below(corpus.size())];
          if (other.empty() || b.empty()) break;
          const size_t from = below(other.size()), n = 1 + below(std::min<size_t>(other.size() - from, 64));
          const size_t at = below(b.size());
          for (size_t i = 0; i < n && at + i < b.size(); ++i) b[at + i] = other[from + i];
          break;
        }
        case 5:  // truncate
          b.resize(below(b.size() + 1));
          break;
        case 6: {  // a boundary integer (little-endian, 1/2/4/8 bytes)
          static const uint64_t values[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000,
                                            0xffffffff, 0x7fffffffffffffffull, 0xffffffffffffffffull};
          const uint64_t v = values[below(std::size(values))];
          const size_t width = size_t{1} << below(4);
          if (b.size() < width) break;
          const size_t at = below(b.size() - width + 1);
          for (size_t i = 0; i < width; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
          break;
        }
        default: {  // a dictionary token, inserted or written over
          const Bytes& t = dict[below(dict.size())];
          const size_t at = below(b.size() + 1);
          if (rng() & 1) {
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), t.begin(), t.end());
          } else {
            for (size_t i = 0; i < t.size(); ++i)
              if (at + i < b.size()) b[at + i] = t[i]; else b.push_back(t[i]);
          }
        }
      }
    }
    if (b.size() > kMaxLen) b.resize(kMaxLen);
  }
};

void run(const Bytes& input) {
  current = input;
  LLVMFuzzerTestOneInput(current.data(), current.size());
}

}  // namespace

int main(int argc, char** argv) {
  long long runs = 4000;
  uint64_t seed = 1;
  Mutator m;
  std::vector<Bytes> corpus;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("-runs=", 0) == 0) {
      runs = std::atoll(a.c_str() + 6);
    } else if (a.rfind("-seed=", 0) == 0) {
      seed = std::strtoull(a.c_str() + 6, nullptr, 10);
    } else if (a.rfind("-dict=", 0) == 0) {
      std::ifstream f(a.substr(6));
      if (!f) {
        std::fprintf(stderr, "fuzz smoke: error: %s: cannot read the dictionary\n", a.c_str() + 6);
        return 2;
      }
      Bytes token;
      for (std::string line; std::getline(f, line);)
        if (parse_dict_line(line, token)) m.dict.push_back(token);
    } else if (std::filesystem::is_directory(a)) {
      for (const auto& e : std::filesystem::directory_iterator(a))
        if (e.is_regular_file()) corpus.push_back(read_file(e.path()));
    } else if (std::filesystem::is_regular_file(a)) {
      corpus.push_back(read_file(a));
    } else if (a[0] == '-') {
      std::fprintf(stderr, "fuzz smoke: error: %s: unknown option\n", a.c_str());
      return 2;
    } else {
      std::fprintf(stderr, "fuzz smoke: note: %s does not exist; no inputs from it\n", a.c_str());
    }
  }
  m.rng.seed(seed);
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) signal(sig, write_current_and_die);

  corpus.push_back({});
  for (const Bytes& input : corpus) run(input);  // the inputs as they are
  long long executed = static_cast<long long>(corpus.size());
  for (; executed < runs; ++executed) {
    Bytes b = corpus[m.below(corpus.size())];
    m.mutate(b, corpus);
    run(b);
  }
  std::printf("fuzz smoke: %lld executions (%zu inputs, %zu dictionary tokens, seed %llu), no failure\n", executed,
              corpus.size(), m.dict.size(), static_cast<unsigned long long>(seed));
  return 0;
}
