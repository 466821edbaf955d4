// The roofline probe: every access pattern (1, 2, 4, 8 streams per thread) is measured and the
// reported bandwidth is the best of them.
#include <gtest/gtest.h>

#include <algorithm>

#include "squish/eval/throughput.h"

TEST(ReadBandwidth, ReportsTheBestPattern) {
  const squish::ReadBandwidth bw = squish::measure_read_bandwidth(size_t{64} << 20, 2);
  ASSERT_EQ(bw.patterns.size(), 4u);
  double best = 0;
  int best_streams = 0;
  for (size_t i = 0; i < bw.patterns.size(); ++i) {
    EXPECT_EQ(bw.patterns[i].streams_per_thread, 1 << i);
    EXPECT_GT(bw.patterns[i].bytes_per_second, 1e8);  // every pattern really read the buffer
    if (bw.patterns[i].bytes_per_second > best) {
      best = bw.patterns[i].bytes_per_second;
      best_streams = bw.patterns[i].streams_per_thread;
    }
  }
  EXPECT_EQ(bw.bytes_per_second, best);
  EXPECT_EQ(bw.streams_per_thread, best_streams);
}
