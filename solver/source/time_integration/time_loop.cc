#include <scorefp/time_integration/time_loop.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace scorefp
{
  std::vector<double> make_output_times(const ForwardProcess      &process,
                                        const std::vector<double> &requested,
                                        const unsigned int         n_intervals)
  {
    return make_output_times(process.start_time, process.final_time, requested, n_intervals);
  }

  std::vector<double> make_output_times(const double               first,
                                        const double               last,
                                        const std::vector<double> &requested,
                                        const unsigned int         n_intervals)
  {
    std::vector<double> times = {first};
    if (!requested.empty())
      times.insert(times.end(), requested.begin(), requested.end());
    else
      for (unsigned int k = 1; k <= n_intervals; ++k)
        times.push_back(first + (last - first) * k / n_intervals);
    times.push_back(last);
    std::sort(times.begin(), times.end());
    times.erase(std::unique(times.begin(),
                            times.end(),
                            [](double a, double b) { return std::abs(a - b) < 1e-14; }),
                times.end());
    return times;
  }

  std::string failure_context(const double t, const unsigned int step)
  {
    std::ostringstream s;
    s << "At step " << step << ", t = " << std::setprecision(8) << t << ": ";
    return s.str();
  }

  void print_progress_line(std::ostream      &out,
                           const unsigned int step,
                           const double       t,
                           const double       dt,
                           const double       fraction_done,
                           const double       elapsed_seconds,
                           const std::string &figures)
  {
    std::ostringstream line;
    line << "  step " << std::setw(5) << step << "  t = " << std::setw(10) << std::setprecision(5)
         << t << "  dt = " << std::setw(10) << std::setprecision(3) << dt << "  " << figures
         << "  ETA ";
    // The estimate assumes the remaining time costs what the past did; before 2% of
    // the interval it says nothing useful.
    if (fraction_done < 0.02)
      line << "--";
    else
      line << std::setprecision(2) << std::fixed
           << elapsed_seconds * (1 - fraction_done) / fraction_done << " s";
    out << line.str() << std::endl;
  }
} // namespace scorefp
