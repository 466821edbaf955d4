// TextStream: what a server may send while text streams in, cut at stop sequences.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "squish/serve/text_stream.h"

namespace {

using squish::serve::TextStream;

// Feeds pieces; returns everything released (pieces, then flush unless stopped).
std::string run(TextStream& ts, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += ts.push(p);
  return out + ts.flush();
}

TEST(TextStream, CutsAtAStopSequenceSplitAcrossPieces) {
  TextStream ts({"END"});
  EXPECT_EQ(ts.push("hello E"), "hello ");  // "E" could begin "END": held back
  EXPECT_EQ(ts.push("N"), "");
  EXPECT_EQ(ts.push("D and more"), "");
  EXPECT_TRUE(ts.stopped());
  EXPECT_EQ(ts.released(), "hello ");
  EXPECT_EQ(ts.flush(), "");
}

TEST(TextStream, ReleasesHeldTextWhenTheStopDoesNotFollow) {
  TextStream ts({"END"});
  EXPECT_EQ(ts.push("an E"), "an ");
  EXPECT_EQ(ts.push("ast"), "East");
  EXPECT_FALSE(ts.stopped());
  EXPECT_EQ(ts.push(" EN"), " ");
  EXPECT_EQ(ts.flush(), "EN");  // generation ended for another reason: the held text goes out
}

TEST(TextStream, EarliestOfSeveralStopsWins) {
  TextStream ts({"cd", "b"});
  EXPECT_EQ(run(ts, {"a", "bcd"}), "a");
  EXPECT_TRUE(ts.stopped());
}

TEST(TextStream, NoStopsReleasesEverythingButUnfinishedUtf8) {
  TextStream ts({});
  const std::string euro = "\xE2\x82\xAC";  // U+20AC in three bytes
  EXPECT_EQ(ts.push("x" + euro.substr(0, 2)), "x");
  EXPECT_EQ(ts.push(euro.substr(2)), euro);
  EXPECT_EQ(ts.flush(), "");
  EXPECT_EQ(ts.released(), "x" + euro);
}

TEST(TextStream, AllPiecesConcatenateToTheTextBeforeTheStop) {
  const std::string text = "The quick brown fox jumps over the lazy dog";
  for (size_t step = 1; step <= 5; ++step) {
    TextStream ts({"lazy", "zebra"});
    std::vector<std::string> pieces;
    for (size_t i = 0; i < text.size(); i += step) pieces.push_back(text.substr(i, step));
    EXPECT_EQ(run(ts, pieces), text.substr(0, text.find("lazy"))) << "piece size " << step;
  }
}

}  // namespace
