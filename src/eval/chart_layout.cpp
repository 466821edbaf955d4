// Chart layout: axis ranges with "nice" ticks, data-to-pixel mapping, the Pareto front.
#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "squish/eval/chart.h"

namespace squish {

namespace {

// Ticks at 1, 2 or 5 × 10^k covering [lo, hi] with about `target` intervals; widens the range to
// whole ticks.
std::vector<double> nice_ticks(double& lo, double& hi, int target) {
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  lo = std::floor(lo / step) * step;
  hi = std::ceil(hi / step) * step;
  std::vector<double> t;
  for (double v = lo; v <= hi + step * 1e-9; v += step) t.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
  return t;
}

}  // namespace

double ChartLayout::px(double x) const { return left + (x - x0) / (x1 - x0) * (right - left); }

double ChartLayout::py(double y) const {
  const double v = log_y ? std::log10(std::max(y, 1e-300)) : y;
  return bottom - (v - y0) / (y1 - y0) * (bottom - top);
}

ChartLayout layout_chart(const Chart& chart, int width, int height) {
  ChartLayout l;
  l.width = width;
  l.height = height;
  l.left = 80;
  l.right = width - 170;  // room for the legend
  l.top = 45;
  l.bottom = height - 60;
  l.log_y = chart.log_y;
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const ChartSeries& s : chart.series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      const double y = chart.log_y ? std::log10(std::max(s.y[i], 1e-300)) : s.y[i];
      if (!std::isfinite(s.x[i]) || !std::isfinite(y)) continue;
      xlo = std::min(xlo, s.x[i]);
      xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, y);
      yhi = std::max(yhi, y);
    }
  if (!std::isfinite(xlo)) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
  l.x_ticks = nice_ticks(xlo, xhi, 6);
  l.x0 = xlo;
  l.x1 = xhi;
  if (chart.log_y) {
    ylo = std::floor(ylo);
    yhi = std::max(std::ceil(yhi), ylo + 1);
    for (double e = ylo; e <= yhi; ++e) l.y_ticks.push_back(std::pow(10.0, e));
  } else {
    l.y_ticks = nice_ticks(ylo, yhi, 6);
  }
  l.y0 = ylo;
  l.y1 = yhi;
  return l;
}

std::string tick_label(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e5 || a < 1e-3) return fmt::format("{:.0e}", v);
  std::string s = fmt::format("{:.4f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::vector<size_t> pareto_front(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<size_t> idx(x.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return x[a] < x[b] || (x[a] == x[b] && y[a] < y[b]); });
  std::vector<size_t> front;
  double best = std::numeric_limits<double>::infinity();
  for (size_t i : idx)
    if (y[i] < best) {
      front.push_back(i);
      best = y[i];
    }
  return front;
}

}  // namespace squish
