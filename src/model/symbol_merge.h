// The merge loop shared by the BPE and SentencePiece tokenizers: split a string into UTF-8
// characters, then repeatedly merge the adjacent pair of highest priority (leftmost on ties).
#pragma once
#include <algorithm>
#include <optional>
#include <queue>
#include <string_view>
#include <vector>

#include "squish/model/unicode.h"

namespace squish::detail {

// Merges the characters of `text` while `priority(left, right, joined)` returns a value for some
// adjacent pair (higher merges first); returns the final pieces, left to right, as views of text.
template <typename Priority>
std::vector<std::string_view> merge_symbols(std::string_view text, const Priority& priority) {
  struct Symbol {
    int prev, next;
    size_t start, len;
  };
  struct Pair {
    double priority;
    int left, right;
    size_t size;
    // priority_queue pops the "largest": highest priority, then leftmost.
    bool operator<(const Pair& o) const {
      return priority < o.priority || (priority == o.priority && left > o.left);
    }
  };
  std::vector<Symbol> sym;
  sym.reserve(text.size());
  for (size_t off = 0; off < text.size();) {
    const size_t n = std::min(text.size() - off, unicode::utf8_len(static_cast<uint8_t>(text[off])));
    const int idx = static_cast<int>(sym.size());
    sym.push_back({idx - 1, off + n == text.size() ? -1 : idx + 1, off, n});
    off += n;
  }
  std::priority_queue<Pair> queue;
  auto add = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    const size_t size = sym[l].len + sym[r].len;
    const std::optional<double> p = priority(text.substr(sym[l].start, sym[l].len),
                                             text.substr(sym[r].start, sym[r].len),
                                             text.substr(sym[l].start, size));
    if (p) queue.push({*p, l, r, size});
  };
  for (int i = 1; i < static_cast<int>(sym.size()); ++i) add(i - 1, i);
  while (!queue.empty()) {
    const Pair b = queue.top();
    queue.pop();
    Symbol& l = sym[b.left];
    Symbol& r = sym[b.right];
    // Stale: one side already merged away or grown since the pair was queued.
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.size) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = b.left;
    add(l.prev, b.left);
    add(b.left, l.next);
  }
  std::vector<std::string_view> pieces;
  for (int i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next)
    pieces.push_back(text.substr(sym[i].start, sym[i].len));
  return pieces;
}

}  // namespace squish::detail
