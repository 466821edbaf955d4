// Python-syntax regular expressions compiled to a Thompson NFA and run as a Pike VM: every thread
// advances in lockstep over the name, each program step at most once per position, so matching
// costs O(steps × length) whatever the pattern (std::regex backtracks exponentially on `(a*)*b`).
#include "squish/common/name_pattern.h"

#include <cctype>
#include <utility>

#include "squish/common/error.h"

namespace squish {
namespace {

constexpr size_t kMaxPatternBytes = 4096;
constexpr int kMaxDepth = 100;
constexpr size_t kMaxSteps = 65536;
constexpr int kUnbounded = -1;

using Set = std::bitset<256>;
using Step = NamePattern::Step;

// The parsed pattern.
struct Node {
  enum Kind { Empty, Byte, Class, Concat, Alt, Repeat, Begin, End } kind = Empty;
  int value = 0;             // Byte: the byte; Class: set index; End: 1 for `$`
  int min = 0, max = 0;      // Repeat: counts (max kUnbounded = no limit)
  std::vector<Node> kids;    // Concat / Alt: the parts; Repeat: the one repeated node
};

[[noreturn]] void fail(const std::string& why, size_t at) {
  throw Error("", why + " at position " + std::to_string(at));
}

Set range_set(int lo, int hi) {
  Set s;
  for (int c = lo; c <= hi; ++c) s.set(static_cast<size_t>(c));
  return s;
}

Set digit_set() { return range_set('0', '9'); }
Set space_set() {
  Set s;
  for (char c : std::string(" \t\n\r\f\v")) s.set(static_cast<unsigned char>(c));
  return s;
}
// ASCII letters, digits, '_' and every non-ASCII byte (the UTF-8 letters of str patterns).
Set word_set() { return range_set('a', 'z') | range_set('A', 'Z') | digit_set() | range_set('_', '_') | range_set(0x80, 0xff); }

// Recursive-descent parser over the pattern's bytes.
class Parser {
 public:
  Parser(const std::string& p, std::vector<Set>& sets) : p_(p), sets_(sets) {}

  Node parse() {
    Node n = alternation(0);
    if (i_ < p_.size()) fail("unbalanced parenthesis", i_);  // only a ')' stops alternation early
    return n;
  }

 private:
  const std::string& p_;
  std::vector<Set>& sets_;
  size_t i_ = 0;

  bool at_end() const { return i_ >= p_.size(); }
  char peek() const { return p_[i_]; }

  Node class_node(const Set& s) {
    sets_.push_back(s);
    Node n;
    n.kind = Node::Class;
    n.value = static_cast<int>(sets_.size() - 1);
    return n;
  }

  Node alternation(int depth) {
    if (depth > kMaxDepth) fail("pattern nested more than " + std::to_string(kMaxDepth) + " levels", i_);
    Node first = concatenation(depth);
    if (at_end() || peek() != '|') return first;
    Node alt;
    alt.kind = Node::Alt;
    alt.kids.push_back(std::move(first));
    while (!at_end() && peek() == '|') {
      ++i_;
      alt.kids.push_back(concatenation(depth));
    }
    return alt;
  }

  Node concatenation(int depth) {
    Node cat;
    cat.kind = Node::Concat;
    while (!at_end() && peek() != '|' && peek() != ')') cat.kids.push_back(repetition(depth));
    return cat;
  }

  // Reads "{m}", "{m,}", "{,n}", "{m,n}" at i_ as Python does; false (i_ unchanged) if it is a literal '{'.
  bool counts(int& min, int& max) {
    size_t j = i_ + 1;
    const auto digits = [&](std::string& out) {
      while (j < p_.size() && p_[j] >= '0' && p_[j] <= '9') out += p_[j++];
    };
    std::string lo, hi;
    digits(lo);
    bool comma = false;
    if (j < p_.size() && p_[j] == ',') {
      comma = true;
      ++j;
      digits(hi);
    } else {
      hi = lo;
    }
    if (j >= p_.size() || p_[j] != '}' || (!comma && lo.empty())) return false;  // "{}" is literal
    const auto number = [&](const std::string& d) {
      if (d.size() > 6) fail("repeat count too large", i_);
      return std::stoi(d);
    };
    min = lo.empty() ? 0 : number(lo);
    max = hi.empty() ? kUnbounded : number(hi);
    if (max != kUnbounded && max < min) fail("min repeat greater than max repeat", i_);
    i_ = j + 1;
    return true;
  }

  Node repetition(int depth) {
    const size_t start = i_;
    Node atom_node = atom(depth);
    bool repeated = false;
    while (!at_end()) {
      int min = 0, max = 0;
      const char c = peek();
      if (c == '*') { min = 0; max = kUnbounded; ++i_; }
      else if (c == '+') { min = 1; max = kUnbounded; ++i_; }
      else if (c == '?') { min = 0; max = 1; ++i_; }
      else if (c == '{') { if (!counts(min, max)) break; }
      else break;
      if (repeated) fail("multiple repeat", i_ - 1);
      if (atom_node.kind == Node::Begin || atom_node.kind == Node::End) fail("nothing to repeat", start);
      repeated = true;
      if (!at_end() && peek() == '?') ++i_;  // lazy: the same language, so the same yes/no answer
      if (!at_end() && peek() == '+') fail("possessive repeat is not supported", i_);
      Node rep;
      rep.kind = Node::Repeat;
      rep.min = min;
      rep.max = max;
      rep.kids.push_back(std::move(atom_node));
      atom_node = std::move(rep);
    }
    return atom_node;
  }

  Node byte_node(int b) {
    Node n;
    n.kind = Node::Byte;
    n.value = b;
    return n;
  }

  Node atom(int depth) {
    const size_t at = i_;
    const char c = p_[i_++];
    switch (c) {
      case '(': {
        if (!at_end() && peek() == '?') {
          if (p_.compare(i_, 2, "?:") == 0) {
            i_ += 2;
          } else if (p_.compare(i_, 3, "?P<") == 0) {
            const size_t close = p_.find('>', i_);
            if (close == std::string::npos || close == i_ + 3) fail("bad group name", i_);
            i_ = close + 1;
          } else {
            fail("group extension '(" + p_.substr(i_, 2) + "' is not supported", at);
          }
        }
        Node inner = alternation(depth + 1);
        if (at_end() || peek() != ')') fail("missing ), unterminated subpattern", at);
        ++i_;
        return inner;
      }
      case '[': return class_node(bracket(at));
      case '.': { Set s; s.set(); s.reset('\n'); return class_node(s); }
      case '^': { Node n; n.kind = Node::Begin; return n; }
      case '$': { Node n; n.kind = Node::End; n.value = 1; return n; }
      case '*': case '+': case '?': fail("nothing to repeat", at);
      case '{': {
        int min = 0, max = 0;
        --i_;
        if (counts(min, max)) fail("nothing to repeat", at);
        ++i_;
        return byte_node('{');
      }
      case '\\': return escape(at, false).second;
      default: return byte_node(static_cast<unsigned char>(c));
    }
  }

  // An escape after '\\' (at i_): its set, and (outside a class) its node.
  std::pair<Set, Node> escape(size_t at, bool in_class) {
    if (at_end()) fail("bad escape (end of pattern)", at);
    const char c = p_[i_++];
    const auto single = [&](int b) { Set s; s.set(static_cast<size_t>(b)); return std::make_pair(s, byte_node(b)); };
    const auto set = [&](const Set& s) { return std::make_pair(s, in_class ? Node{} : class_node(s)); };
    switch (c) {
      case 'd': return set(digit_set());
      case 'D': return set(~digit_set());
      case 'w': return set(word_set());
      case 'W': return set(~word_set());
      case 's': return set(space_set());
      case 'S': return set(~space_set());
      case 'n': return single('\n');
      case 't': return single('\t');
      case 'r': return single('\r');
      case 'f': return single('\f');
      case 'v': return single('\v');
      case 'a': return single('\a');
      case 'x': {
        if (i_ + 2 > p_.size() || !std::isxdigit(static_cast<unsigned char>(p_[i_])) ||
            !std::isxdigit(static_cast<unsigned char>(p_[i_ + 1])))
          fail("incomplete escape \\x", at);
        const int b = std::stoi(p_.substr(i_, 2), nullptr, 16);
        i_ += 2;
        return single(b);
      }
      case 'A': case 'Z':
        if (in_class) fail(std::string("bad escape \\") + c + " in a character set", at);
        {
          Node n;
          n.kind = c == 'A' ? Node::Begin : Node::End;
          return {Set{}, n};
        }
      default:
        if (std::isalnum(static_cast<unsigned char>(c)))
          fail(std::string("escape \\") + c + " is not supported", at);
        return single(static_cast<unsigned char>(c));
    }
  }

  // A character set after '[' (at i_).
  Set bracket(size_t at) {
    Set s;
    bool negate = false;
    if (!at_end() && peek() == '^') { negate = true; ++i_; }
    bool first = true;
    while (true) {
      if (at_end()) fail("unterminated character set", at);
      if (peek() == ']' && !first) { ++i_; break; }
      first = false;
      const size_t item_at = i_;
      bool is_set = false;
      const Set lo = member(is_set);
      if (!at_end() && peek() == '-' && i_ + 1 < p_.size() && p_[i_ + 1] != ']') {
        ++i_;
        bool hi_is_set = false;
        const Set hi = member(hi_is_set);
        if (is_set || hi_is_set) fail("bad character range", item_at);
        const int a = first_bit(lo), b = first_bit(hi);
        if (a > b) fail("bad character range", item_at);
        s |= range_set(a, b);
      } else {
        s |= lo;
      }
    }
    return negate ? ~s : s;
  }

  // One member of a character set: a byte or an escape.
  Set member(bool& is_set) {
    const size_t at = i_;
    const char c = p_[i_++];
    if (c != '\\') { Set s; s.set(static_cast<unsigned char>(c)); is_set = false; return s; }
    const auto [set, node] = escape(at, true);
    is_set = set.count() != 1 || node.kind != Node::Byte;
    return set;
  }

  static int first_bit(const Set& s) {
    for (int c = 0; c < 256; ++c)
      if (s.test(static_cast<size_t>(c))) return c;
    return 0;
  }
};

// Emits the program of a node.
class Compiler {
 public:
  explicit Compiler(std::vector<Step>& prog) : prog_(prog) {}

  void emit(const Node& n) {
    // Nodes that emit nothing ("()" repeated) would otherwise let "((){999999}){999999}" spin.
    if (++visits_ > 4 * kMaxSteps) throw Error("", "pattern too large (over " + std::to_string(4 * kMaxSteps) + " parts compiled)");
    switch (n.kind) {
      case Node::Empty: return;
      case Node::Byte: push({Step::Byte, n.value, 0}); return;
      case Node::Class: push({Step::Set, n.value, 0}); return;
      case Node::Begin: push({Step::Begin, 0, 0}); return;
      case Node::End: push({Step::End, 0, n.value}); return;
      case Node::Concat:
        for (const Node& k : n.kids) emit(k);
        return;
      case Node::Alt: {
        std::vector<size_t> jumps;
        for (size_t k = 0; k < n.kids.size(); ++k) {
          if (k + 1 < n.kids.size()) {
            const size_t split = push({Step::Split, 0, 0});
            prog_[split].x = here();
            emit(n.kids[k]);
            jumps.push_back(push({Step::Jump, 0, 0}));
            prog_[split].y = here();
          } else {
            emit(n.kids[k]);
          }
        }
        for (size_t j : jumps) prog_[j].x = here();
        return;
      }
      case Node::Repeat: {
        const Node& body = n.kids[0];
        for (int k = 0; k < n.min; ++k) emit(body);
        if (n.max == kUnbounded) {
          const size_t split = push({Step::Split, 0, 0});
          prog_[split].x = here();
          emit(body);
          push({Step::Jump, static_cast<int32_t>(split), 0});
          prog_[split].y = here();
          return;
        }
        std::vector<size_t> splits;
        for (int k = n.min; k < n.max; ++k) {
          splits.push_back(push({Step::Split, 0, 0}));
          prog_[splits.back()].x = here();
          emit(body);
        }
        for (size_t s : splits) prog_[s].y = here();
        return;
      }
    }
  }

 private:
  std::vector<Step>& prog_;
  size_t visits_ = 0;

  int32_t here() const { return static_cast<int32_t>(prog_.size()); }
  size_t push(Step s) {
    if (prog_.size() >= kMaxSteps) throw Error("", "pattern too large (over " + std::to_string(kMaxSteps) + " steps compiled)");
    prog_.push_back(s);
    return prog_.size() - 1;
  }
};

}  // namespace

NamePattern::NamePattern(const std::string& pattern) {
  if (pattern.size() > kMaxPatternBytes)
    throw Error("", "pattern longer than " + std::to_string(kMaxPatternBytes) + " bytes");
  Parser parser(pattern, sets_);
  const Node root = parser.parse();
  Compiler(prog_).emit(root);
  prog_.push_back({Step::Accept, 0, 0});
}

bool NamePattern::match_prefix(const std::string& s) const {
  const size_t n = s.size();
  std::vector<uint32_t> seen(prog_.size(), 0);
  uint32_t generation = 0;
  std::vector<int32_t> current, next, stack;
  bool accepted = false;
  // Adds the thread at `pc` (and whatever it leads to without reading) to `list` at position pos.
  const auto add = [&](std::vector<int32_t>& list, int32_t pc0, size_t pos) {
    stack.assign(1, pc0);
    while (!stack.empty()) {
      const int32_t pc = stack.back();
      stack.pop_back();
      if (seen[static_cast<size_t>(pc)] == generation) continue;
      seen[static_cast<size_t>(pc)] = generation;
      const Step& st = prog_[static_cast<size_t>(pc)];
      switch (st.op) {
        case Step::Jump: stack.push_back(st.x); break;
        case Step::Split: stack.push_back(st.y); stack.push_back(st.x); break;
        case Step::Begin: if (pos == 0) stack.push_back(pc + 1); break;
        case Step::End:
          if (pos == n || (st.y == 1 && pos + 1 == n && s[pos] == '\n')) stack.push_back(pc + 1);
          break;
        case Step::Accept: accepted = true; break;
        default: list.push_back(pc);
      }
    }
  };
  ++generation;
  add(current, 0, 0);
  for (size_t pos = 0; pos < n && !accepted && !current.empty(); ++pos) {
    ++generation;
    next.clear();
    const auto c = static_cast<unsigned char>(s[pos]);
    for (const int32_t pc : current) {
      const Step& st = prog_[static_cast<size_t>(pc)];
      const bool hit = st.op == Step::Byte ? st.x == c : sets_[static_cast<size_t>(st.x)].test(c);
      if (hit) add(next, pc + 1, pos + 1);
    }
    current.swap(next);
  }
  return accepted;
}

}  // namespace squish
