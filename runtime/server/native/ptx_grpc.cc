// _ptx_grpc: the native gRPC front end of `ptx serve` (KServe v2 GRPCInferenceService).
//
// C++ owns the transport and protobuf; every decision stays in Python
// (ptx.runtime.server.grpc_native): ModelInfer calls one Python callable with the GIL,
// handing it the request's fields, the raw input buffers as memoryviews over buffers
// moved out of the request (no copy), and writes the arrays it returns into
// raw_output_contents. The other RPCs pass the serialised request to a second callable
// and parse the serialised answer it returns (they are not hot).
//
//   start(address, max_receive_bytes, infer, call, lone_core=True) -> (server capsule, port)
//   shutdown(server, grace_s)   refuse new calls, let in-flight ones finish (GIL released)
//   cancelled()                 whether this thread's ModelInfer client went away (or its
//                               deadline passed), asked while the call waits for a batch
//
// A ModelInfer with no other in flight runs on one core, the one lone calls ran on before
// (lone_core.h): gRPC hands successive calls to different threads, and wherever the
// scheduler woke each, the engine run hopped between cores and ran with cold caches.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "grpc_service.grpc.pb.h"
#include "lone_core.h"

namespace {

const char* kCapsule = "ptx._ptx_grpc.server";
constexpr int kMaxPollers = 64;

// -- Blob: one raw input buffer, owned, exposed read-only through the buffer protocol ----
struct Blob {
  PyObject_HEAD std::string* data;
};

void blob_dealloc(PyObject* self) {
  delete reinterpret_cast<Blob*>(self)->data;
  PyTypeObject* type = Py_TYPE(self);
  type->tp_free(self);
  Py_DECREF(type);  // instances of a heap type hold a reference to it
}

int blob_getbuffer(PyObject* self, Py_buffer* view, int flags) {
  std::string* s = reinterpret_cast<Blob*>(self)->data;
  return PyBuffer_FillInfo(view, self, s->data(), static_cast<Py_ssize_t>(s->size()), 1, flags);
}

PyType_Slot blob_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(blob_dealloc)},
    {Py_bf_getbuffer, reinterpret_cast<void*>(blob_getbuffer)},
    {Py_tp_doc, const_cast<char*>("a raw input buffer of one gRPC request (read-only)")},
    {0, nullptr},
};
PyType_Spec blob_spec = {"ptx._ptx_grpc.Blob", sizeof(Blob), 0, Py_TPFLAGS_DEFAULT, blob_slots};
PyObject* blob_type = nullptr;

// A memoryview over a Blob that takes ``s``'s bytes without copying them (swap).
PyObject* take_view(std::string* s) {
  PyObject* blob = PyType_GenericAlloc(reinterpret_cast<PyTypeObject*>(blob_type), 0);
  if (blob == nullptr) return nullptr;
  auto* b = reinterpret_cast<Blob*>(blob);
  b->data = new std::string();
  b->data->swap(*s);
  PyObject* view = PyMemoryView_FromObject(blob);
  Py_DECREF(blob);
  return view;
}

bool finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing();
#else
  return _Py_IsFinalizing();
#endif
}

// -- the GIL, taken on a gRPC thread ------------------------------------------------------
// Each gRPC thread keeps one Python thread state while it lives (made by PyGILState_Ensure,
// so nested PyGILState calls find it) instead of making and freeing one per call; it is
// freed as the thread ends.
struct ThreadState {
  bool made = false;
  PyGILState_STATE gil_state = PyGILState_UNLOCKED;
  PyThreadState* saved = nullptr;
  ~ThreadState() {
    if (!made || finalizing()) return;  // never used, or the interpreter is going away
    PyEval_RestoreThread(saved);
    PyGILState_Release(gil_state);  // frees this thread's state and releases the GIL
  }
};

class Gil {
 public:
  Gil() {
    thread_local ThreadState state;
    state_ = &state;
    if (!state.made) {
      state.gil_state = PyGILState_Ensure();
      state.made = true;
    } else {
      PyEval_RestoreThread(state.saved);
    }
  }
  ~Gil() { state_->saved = PyEval_SaveThread(); }
  Gil(const Gil&) = delete;
  Gil& operator=(const Gil&) = delete;

 private:
  ThreadState* state_;
};

// The ModelInfer call this thread is answering (Python asks ``cancelled()`` about it while
// it waits for the batcher); nullptr between calls.
thread_local grpc::ServerContext* current_call = nullptr;

struct CurrentCall {
  explicit CurrentCall(grpc::ServerContext* ctx) { current_call = ctx; }
  ~CurrentCall() { current_call = nullptr; }
};

// The Python exception that escaped a callback: logged by Python, INTERNAL to the client.
grpc::Status internal_error() {
  PyErr_WriteUnraisable(nullptr);
  return grpc::Status(grpc::StatusCode::INTERNAL, "internal server error; see the server log");
}

// The ``authorization`` metadata as bytes, or None.
PyObject* authorization(grpc::ServerContext* ctx) {
  const auto& meta = ctx->client_metadata();
  auto it = meta.find("authorization");
  if (it == meta.end()) Py_RETURN_NONE;
  return PyBytes_FromStringAndSize(it->second.data(), static_cast<Py_ssize_t>(it->second.size()));
}

// (code, message, payload) from a callback: code 0 leaves ``*payload`` borrowed in the tuple.
bool unpack(PyObject* result, int* code, std::string* message, PyObject** payload) {
  if (!PyTuple_Check(result) || PyTuple_GET_SIZE(result) != 3) {
    PyErr_SetString(PyExc_TypeError, "a gRPC callback must return (code, message, payload)");
    return false;
  }
  long c = PyLong_AsLong(PyTuple_GET_ITEM(result, 0));
  if (c == -1 && PyErr_Occurred()) return false;
  Py_ssize_t n = 0;
  const char* text = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(result, 1), &n);
  if (text == nullptr) return false;
  *code = static_cast<int>(c);
  message->assign(text, static_cast<size_t>(n));
  *payload = PyTuple_GET_ITEM(result, 2);
  return true;
}

// A str of ``s`` (UTF-8 as protobuf checked it), or nullptr with the error set.
PyObject* text(const std::string& s) {
  return PyUnicode_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
}

PyObject* shape_tuple(const google::protobuf::RepeatedField<int64_t>& dims) {
  PyObject* shape = PyTuple_New(dims.size());
  if (shape == nullptr) return nullptr;
  for (int i = 0; i < dims.size(); ++i) {
    PyObject* d = PyLong_FromLongLong(dims.Get(i));
    if (d == nullptr) {
      Py_DECREF(shape);
      return nullptr;
    }
    PyTuple_SET_ITEM(shape, i, d);
  }
  return shape;
}

class Service final : public inference::GRPCInferenceService::Service {
 public:
  Service(PyObject* infer, PyObject* call) : infer_(infer), call_(call) {
    Py_INCREF(infer_);
    Py_INCREF(call_);
  }
  ~Service() override {  // with the GIL held (the capsule's destructor or shutdown)
    Py_XDECREF(infer_);
    Py_XDECREF(call_);
  }

  grpc::Status ServerLive(grpc::ServerContext* c, const inference::ServerLiveRequest* q,
                          inference::ServerLiveResponse* r) override {
    return Forward("ServerLive", c, *q, r);
  }
  grpc::Status ServerReady(grpc::ServerContext* c, const inference::ServerReadyRequest* q,
                           inference::ServerReadyResponse* r) override {
    return Forward("ServerReady", c, *q, r);
  }
  grpc::Status ModelReady(grpc::ServerContext* c, const inference::ModelReadyRequest* q,
                          inference::ModelReadyResponse* r) override {
    return Forward("ModelReady", c, *q, r);
  }
  grpc::Status ServerMetadata(grpc::ServerContext* c, const inference::ServerMetadataRequest* q,
                              inference::ServerMetadataResponse* r) override {
    return Forward("ServerMetadata", c, *q, r);
  }
  grpc::Status ModelMetadata(grpc::ServerContext* c, const inference::ModelMetadataRequest* q,
                             inference::ModelMetadataResponse* r) override {
    return Forward("ModelMetadata", c, *q, r);
  }
  grpc::Status ModelConfig(grpc::ServerContext* c, const inference::ModelConfigRequest* q,
                           inference::ModelConfigResponse* r) override {
    return Forward("ModelConfig", c, *q, r);
  }
  grpc::Status ModelStatistics(grpc::ServerContext* c,
                               const inference::ModelStatisticsRequest* q,
                               inference::ModelStatisticsResponse* r) override {
    return Forward("ModelStatistics", c, *q, r);
  }

  grpc::Status ModelInfer(grpc::ServerContext* ctx, const inference::ModelInferRequest* q,
                          inference::ModelInferResponse* r) override {
    ptx_grpc::InFlight in_flight(&lone_);
    // The request is ours for the call: its raw buffers move into Python objects.
    auto* request = const_cast<inference::ModelInferRequest*>(q);
    std::string whole;
    if (request->raw_input_contents_size() == 0) {
      request->SerializeToString(&whole);  // typed contents: Python decodes the message
    }
    if (finalizing()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is stopping");
    Gil gil;
    PyObject* args = InferArgs(ctx, request, whole);
    if (args == nullptr) return internal_error();
    PyObject* result = nullptr;
    {
      CurrentCall call(ctx);
      result = PyObject_CallObject(infer_, args);
    }
    Py_DECREF(args);
    if (result == nullptr) return internal_error();
    grpc::Status status = Answer(result, *request, r);
    Py_DECREF(result);
    return status;
  }

 private:
  template <class Request, class Response>
  grpc::Status Forward(const char* method, grpc::ServerContext* ctx, const Request& q,
                       Response* r) {
    std::string body;
    q.SerializeToString(&body);
    if (finalizing()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is stopping");
    Gil gil;
    PyObject* auth = authorization(ctx);
    if (auth == nullptr) return internal_error();
    PyObject* result = PyObject_CallFunction(call_, "sy#N", method, body.data(),
                                             static_cast<Py_ssize_t>(body.size()), auth);
    if (result == nullptr) return internal_error();
    int code = 0;
    std::string message;
    PyObject* payload = nullptr;
    grpc::Status status;
    if (!unpack(result, &code, &message, &payload)) {
      status = internal_error();
    } else if (code != 0) {
      status = grpc::Status(static_cast<grpc::StatusCode>(code), message);
    } else {
      char* data = nullptr;
      Py_ssize_t n = 0;
      if (PyBytes_AsStringAndSize(payload, &data, &n) < 0) {
        status = internal_error();
      } else if (!r->ParseFromArray(data, static_cast<int>(n))) {
        status = grpc::Status(grpc::StatusCode::INTERNAL, "could not encode the answer");
      }
    }
    Py_DECREF(result);
    return status;
  }

  // infer(model, version, inputs, raw, outputs, authorization, whole): inputs is a tuple
  // of (name, datatype, shape) tuples, raw a tuple of memoryviews of raw_input_contents,
  // outputs a tuple of the requested names (all hashable: Python keys its checks on
  // them); ``whole`` is the serialised request when it has no raw contents.
  PyObject* InferArgs(grpc::ServerContext* ctx, inference::ModelInferRequest* q,
                      const std::string& whole) {
    PyObject* args = PyTuple_New(7);
    if (args == nullptr) return nullptr;
    PyObject* inputs = PyTuple_New(q->inputs_size());
    PyObject* raw = PyTuple_New(q->raw_input_contents_size());
    PyObject* outputs = PyTuple_New(q->outputs_size());
    PyTuple_SET_ITEM(args, 0, text(q->model_name()));
    PyTuple_SET_ITEM(args, 1, text(q->model_version()));
    PyTuple_SET_ITEM(args, 2, inputs);
    PyTuple_SET_ITEM(args, 3, raw);
    PyTuple_SET_ITEM(args, 4, outputs);
    PyTuple_SET_ITEM(args, 5, authorization(ctx));
    PyObject* body = Py_None;
    if (whole.empty()) {
      Py_INCREF(body);
    } else {
      body = PyBytes_FromStringAndSize(whole.data(), static_cast<Py_ssize_t>(whole.size()));
    }
    PyTuple_SET_ITEM(args, 6, body);
    bool ok = inputs && raw && outputs && body;
    for (int i = 0; ok && i < 6; ++i) ok = PyTuple_GET_ITEM(args, i) != nullptr;
    for (int i = 0; ok && i < q->inputs_size(); ++i) {
      const auto& t = q->inputs(i);
      PyObject* item = PyTuple_New(3);
      ok = item != nullptr;
      if (!ok) break;
      PyTuple_SET_ITEM(inputs, i, item);
      PyObject* name = text(t.name());
      PyObject* datatype = text(t.datatype());
      PyObject* shape = shape_tuple(t.shape());
      PyTuple_SET_ITEM(item, 0, name);
      PyTuple_SET_ITEM(item, 1, datatype);
      PyTuple_SET_ITEM(item, 2, shape);
      ok = name && datatype && shape;
    }
    for (int i = 0; ok && i < q->raw_input_contents_size(); ++i) {
      PyObject* view = take_view(q->mutable_raw_input_contents(i));
      ok = view != nullptr;
      if (ok) PyTuple_SET_ITEM(raw, i, view);
    }
    for (int i = 0; ok && i < q->outputs_size(); ++i) {
      PyObject* name = text(q->outputs(i).name());
      ok = name != nullptr;
      if (ok) PyTuple_SET_ITEM(outputs, i, name);
    }
    if (!ok) {  // a tuple's unset items are NULL, which its deallocation skips
      Py_DECREF(args);
      return nullptr;
    }
    return args;
  }

  // (0, "", [(name, datatype, shape, array), ...]) -> the response; else the status.
  grpc::Status Answer(PyObject* result, const inference::ModelInferRequest& q,
                      inference::ModelInferResponse* r) {
    int code = 0;
    std::string message;
    PyObject* outs = nullptr;
    if (!unpack(result, &code, &message, &outs)) return internal_error();
    if (code != 0) return grpc::Status(static_cast<grpc::StatusCode>(code), message);
    PyObject* seq = PySequence_Fast(outs, "outputs must be a sequence");
    if (seq == nullptr) return internal_error();
    r->set_model_name(q.model_name());
    r->set_model_version("1");
    r->set_id(q.id());
    bool ok = true;
    for (Py_ssize_t i = 0; ok && i < PySequence_Fast_GET_SIZE(seq); ++i) {
      const char *name = nullptr, *datatype = nullptr;
      PyObject *shape = nullptr, *array = nullptr;
      ok = PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "ssOO", &name, &datatype, &shape,
                            &array);
      if (!ok) break;
      auto* out = r->add_outputs();
      out->set_name(name);
      out->set_datatype(datatype);
      PyObject* dims = PySequence_Fast(shape, "shape must be a sequence");
      ok = dims != nullptr;
      for (Py_ssize_t d = 0; ok && d < PySequence_Fast_GET_SIZE(dims); ++d) {
        long long v = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(dims, d));
        ok = !(v == -1 && PyErr_Occurred());
        if (ok) out->add_shape(v);
      }
      Py_XDECREF(dims);
      Py_buffer view;
      ok = ok && PyObject_GetBuffer(array, &view, PyBUF_C_CONTIGUOUS) == 0;
      if (ok) {
        r->add_raw_output_contents(static_cast<const char*>(view.buf),
                                   static_cast<size_t>(view.len));
        PyBuffer_Release(&view);
      }
    }
    Py_DECREF(seq);
    return ok ? grpc::Status::OK : internal_error();
  }

  PyObject* infer_;
  PyObject* call_;

 public:
  ptx_grpc::LoneCore lone_;
};

struct Native {
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
};

// Stop ``native``'s server, waiting at most ``grace_s`` for in-flight calls (they need
// the GIL, so it is released meanwhile).
void stop(Native* native, double grace_s) {
  std::unique_ptr<grpc::Server> server = std::move(native->server);
  if (!server) return;
  Py_BEGIN_ALLOW_THREADS;
  auto deadline = std::chrono::system_clock::now() +
                  std::chrono::microseconds(static_cast<int64_t>(grace_s * 1e6));
  server->Shutdown(deadline);
  server->Wait();
  server.reset();
  Py_END_ALLOW_THREADS;
}

void capsule_destructor(PyObject* capsule) {
  auto* native = static_cast<Native*>(PyCapsule_GetPointer(capsule, kCapsule));
  if (native == nullptr) return;
  if (native->server && finalizing()) {
    (void)native->server.release();  // threads cannot take the GIL any more: leave it be
    (void)native->service.release();
    delete native;
    return;
  }
  stop(native, 0.0);
  delete native;
}

PyObject* py_start(PyObject*, PyObject* args) {
  const char* address = nullptr;
  long long max_receive = 0;
  PyObject *infer = nullptr, *call = nullptr;
  int lone_core = 1;
  if (!PyArg_ParseTuple(args, "sLOO|p:start", &address, &max_receive, &infer, &call, &lone_core)) {
    return nullptr;
  }
  if (!PyCallable_Check(infer) || !PyCallable_Check(call)) {
    PyErr_SetString(PyExc_TypeError, "infer and call must be callables");
    return nullptr;
  }
  auto native = std::make_unique<Native>();
  native->service = std::make_unique<Service>(infer, call);
  native->service->lone_.Start(lone_core != 0);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(native->service.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<long long>(max_receive, INT32_MAX)));
  builder.SetMaxSendMessageSize(-1);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a taken port must fail
  // A thread that has answered keeps polling (up to kMaxPollers) instead of exiting: with
  // gRPC's default of 2, a new thread was made every few dozen calls at concurrency 1,
  // each starting with cold caches and a new Python thread state. Successive calls still
  // land on different threads (the longest-waiting poller takes the next): 93-99% of them
  // at concurrency 1 with every option tried (2 CQs, 3 min pollers, a 1 ms CQ timeout;
  // MAX_POLLERS 2 was slower). The thread does not matter, the core does: a run on the
  // other core than the call before is slower, which LoneCore (lone_core.h) prevents.
  builder.SetSyncServerOption(grpc::ServerBuilder::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::MAX_POLLERS, kMaxPollers);
  std::unique_ptr<grpc::Server> server;
  Py_BEGIN_ALLOW_THREADS;
  server = builder.BuildAndStart();
  Py_END_ALLOW_THREADS;
  if (!server || port == 0) {
    PyErr_Format(PyExc_OSError, "cannot listen for gRPC on %s", address);
    return nullptr;
  }
  native->server = std::move(server);
  Native* raw = native.release();
  PyObject* capsule = PyCapsule_New(raw, kCapsule, capsule_destructor);
  if (capsule == nullptr) {
    stop(raw, 0.0);
    delete raw;
    return nullptr;
  }
  return Py_BuildValue("(Ni)", capsule, port);
}

PyObject* py_shutdown(PyObject*, PyObject* args) {
  PyObject* capsule = nullptr;
  double grace_s = 0.0;
  if (!PyArg_ParseTuple(args, "Od:shutdown", &capsule, &grace_s)) return nullptr;
  auto* native = static_cast<Native*>(PyCapsule_GetPointer(capsule, kCapsule));
  if (native == nullptr) return nullptr;
  stop(native, grace_s);
  Py_RETURN_NONE;
}

PyObject* py_cancelled(PyObject*, PyObject*) {
  return PyBool_FromLong(current_call != nullptr && current_call->IsCancelled());
}

PyMethodDef methods[] = {
    {"start", py_start, METH_VARARGS,
     "start(address, max_receive_bytes, infer, call, lone_core=True) -> (server, port)"},
    {"shutdown", py_shutdown, METH_VARARGS,
     "shutdown(server, grace_s): stop accepting, let in-flight calls finish"},
    {"cancelled", py_cancelled, METH_NOARGS,
     "cancelled() -> True when the client of the ModelInfer this thread answers went away"},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ptx_grpc",
                      "ptx serve's native KServe v2 gRPC front end", -1, methods,
                      nullptr, nullptr, nullptr, nullptr};

}  // namespace

PyMODINIT_FUNC PyInit__ptx_grpc(void) {
  PyObject* m = PyModule_Create(&module);
  if (m == nullptr) return nullptr;
  blob_type = PyType_FromSpec(&blob_spec);
  if (blob_type == nullptr || PyModule_AddObjectRef(m, "Blob", blob_type) < 0) {
    Py_DECREF(m);
    return nullptr;
  }
  return m;
}
