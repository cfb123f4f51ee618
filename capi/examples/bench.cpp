// bench.cpp: per-call time of a model from C++ (one thread), and N threads' throughput.
//   ptx_bench model.onnx SIDE CALLS THREADS [backend] [options_json]
// Prints one line: side S us_per_call X threads T calls_per_s_1 A calls_per_s_T B
// (python -m ptx.runtime.capi --bench puts it beside Python's in-process figure).
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <ptx/ptx.hpp>
#include <thread>
#include <vector>

using Clock = std::chrono::steady_clock;

static double seconds_for(ptx::Engine &engine, std::int64_t side, int calls) {
  std::vector<float> x(static_cast<std::size_t>(3 * side * side), 0.5f);
  auto in = ptx::Input::of<float>("", x, {1, 3, side, side});
  for (int i = 0; i < 50; i++) engine.run({in});  // warm-up
  auto t0 = Clock::now();
  for (int i = 0; i < calls; i++) engine.run({in});
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int main(int argc, char **argv) {
  if (argc < 5) {
    std::cerr << "usage: " << argv[0] << " model.onnx SIDE CALLS THREADS [backend] [options]\n";
    return 2;
  }
  std::int64_t side = std::atoll(argv[2]);
  int calls = std::atoi(argv[3]), threads = std::atoi(argv[4]);
  try {
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
