// bench.cpp: per-call time of a model from C++ (one thread), and N threads' throughput.
//   ptx_bench model.onnx SIDE CALLS THREADS [backend] [options_json]
//     one line: side S us_per_call X threads T calls_per_s_1 A calls_per_s_T B
//     (python -m ptx.runtime.capi --bench puts it beside Python's in-process figure)
//   ptx_bench --serve model.onnx [backend] [options_json]
//     prints "ready", then for each stdin line "SIDE CALLS THREADS" runs CALLS calls on
//     each of THREADS threads (1: this thread) and prints "WALL CPU" seconds;
//     the benchmark study (ptx.benchmarks.studies.capi_overhead) interleaves these
//     rounds with Python's in-process calls, so both sides see the same machine.
#include <time.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <ptx/ptx.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using Clock = std::chrono::steady_clock;

static double seconds_for(ptx::Engine &engine, std::int64_t side, int calls) {
  std::vector<float> x(static_cast<std::size_t>(3 * side * side), 0.5f);
  const std::vector<ptx::Input> in{ptx::Input::of<float>("", x, {1, 3, side, side})};
  for (int i = 0; i < 50; i++) engine.run(in);  // warm-up
  auto t0 = Clock::now();
  for (int i = 0; i < calls; i++) engine.run(in);
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

static double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CALLS calls on each of THREADS threads (1: this thread), timed from the first start to
// the last end; "WALL CPU" seconds, CPU being this thread's (1 thread) or the process's.
static std::string round_seconds(ptx::Engine &engine, std::int64_t side, int calls, int threads) {
  std::vector<float> x(static_cast<std::size_t>(3 * side * side), 0.5f);
  const std::vector<ptx::Input> in{ptx::Input::of<float>("", x, {1, 3, side, side})};
  clockid_t clock = threads <= 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID;
  double cpu0 = cpu_seconds(clock);
  auto t0 = Clock::now();
  if (threads <= 1) {
    for (int i = 0; i < calls; i++) engine.run(in);
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; t++)
      pool.emplace_back([&] {
        for (int i = 0; i < calls; i++) engine.run(in);
      });
    for (auto &t : pool) t.join();
  }
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  std::ostringstream line;
  line.precision(9);
  line << wall << " " << cpu_seconds(clock) - cpu0;
  return line.str();
}

static int serve(int argc, char **argv) {
  ptx::Engine engine(argv[2], argc > 3 ? argv[3] : "onnxruntime", argc > 4 ? argv[4] : "");
  std::cout << "ready" << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::int64_t side = 0;
    int calls = 0, threads = 0;
    if (!(words >> side >> calls >> threads) || side < 1 || calls < 1 || threads < 1) {
      std::cerr << "expected 'SIDE CALLS THREADS', got '" << line << "'\n";
      return 2;
    }
    std::cout << round_seconds(engine, side, calls, threads) << std::endl;
  }
  return 0;
}

int main(int argc, char **argv) {
  bool serving = argc > 2 && std::string(argv[1]) == "--serve";
  if (!serving && argc < 5) {
    std::cerr << "usage: " << argv[0] << " model.onnx SIDE CALLS THREADS [backend] [options]\n"
              << "       " << argv[0] << " --serve model.onnx [backend] [options]\n";
    return 2;
  }
  try {
    if (serving) return serve(argc, argv);
    std::int64_t side = std::atoll(argv[2]);
    int calls = std::atoi(argv[3]), threads = std::atoi(argv[4]);
    ptx::Engine engine(argv[1], argc > 5 ? argv[5] : "onnxruntime", argc > 6 ? argv[6] : "");
    double one = seconds_for(engine, side, calls);
    std::vector<std::thread> pool;
    auto t0 = Clock::now();
    for (int t = 0; t < threads; t++)
      pool.emplace_back([&] { seconds_for(engine, side, calls); });
    for (auto &t : pool) t.join();
    double many = std::chrono::duration<double>(Clock::now() - t0).count();
    std::cout << "side " << side << " us_per_call " << one / calls * 1e6 << " threads " << threads
              << " calls_per_s_1 " << calls / one << " calls_per_s_" << threads << " "
              << (static_cast<double>(calls) * threads) / many << "\n";
  } catch (const ptx::Error &e) {
    std::cerr << "error (" << ptx_status_name(e.code()) << "): " << e.what() << "\n";
    return 1;
  }
  return 0;
}
