// ptx_grpc_lean: a KServe v2 gRPC client as lean as perf_analyzer's or a C++ service's:
// one ModelInferRequest (random FP32 input) built once, sent again and again through the
// generated sync stub, one call at a time. Prints one line per call: microseconds.
//
//   ptx_grpc_lean ADDRESS MODEL INPUT OUTPUT D0,D1,... CALLS
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "grpc_service.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s ADDRESS MODEL INPUT OUTPUT D0,D1,... SECONDS\n", argv[0]);
    return 2;
  }
  inference::ModelInferRequest request;
  request.set_model_name(argv[2]);
  auto* input = request.add_inputs();
  input->set_name(argv[3]);
  input->set_datatype("FP32");
  size_t count = 1;
  std::stringstream dims(argv[5]);
  for (std::string d; std::getline(dims, d, ',');) {
    input->add_shape(std::stoll(d));
    count *= std::stoull(d);
  }
  request.add_outputs()->set_name(argv[4]);
  std::vector<float> values(count);
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (auto& v : values) v = uniform(rng);
  request.add_raw_input_contents(reinterpret_cast<const char*>(values.data()),
                                 values.size() * sizeof(float));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  auto stub = inference::GRPCInferenceService::NewStub(
      grpc::CreateCustomChannel(argv[1], grpc::InsecureChannelCredentials(), args));
  const auto run_for = std::chrono::duration<double>(std::stod(argv[6]));
  auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < 10 || std::chrono::steady_clock::now() - begin < run_for; ++i) {
    grpc::ClientContext ctx;
    inference::ModelInferResponse response;
    auto t0 = std::chrono::steady_clock::now();
    grpc::Status status = stub->ModelInfer(&ctx, request, &response);
    auto t1 = std::chrono::steady_clock::now();
    if (!status.ok()) {
      std::fprintf(stderr, "ModelInfer: %s\n", status.error_message().c_str());
      return 1;
    }
    if (response.raw_output_contents_size() != 1 || response.raw_output_contents(0).empty()) {
      std::fprintf(stderr, "ModelInfer: no raw output in the answer\n");
      return 1;
    }
    if (i < 10) {
      if (i == 9) begin = std::chrono::steady_clock::now();  // warm-up done
      continue;
    }
    std::printf("%.3f\n", std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  return 0;
}
