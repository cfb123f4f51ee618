//! Run a ptx model from Rust through the C ABI (ptx/ptx.h); a safe wrapper in a few lines.
//!   PTX_LIB_DIR=$(python -m ptx.runtime.capi --libdir) cargo run -- model.onnx
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;

#[repr(C)]
struct PtxInput {
    name: *const c_char,
    dtype: i32,
    rank: i32,
    shape: *const i64,
    data: *const c_void,
}

#[repr(C)]
struct PtxOutput {
    name: *const c_char,
    data: *mut c_void,
    capacity: usize,
    dtype: i32,
    rank: i32,
    shape: [i64; 8],
    nbytes: usize,
}

extern "C" {
    fn ptx_api_version() -> u32;
    fn ptx_model_load(p: *const c_char, b: *const c_char, o: *const c_char, m: *mut *mut c_void) -> i32;
    fn ptx_model_free(m: *mut c_void);
    fn ptx_run(m: *mut c_void, i: *const PtxInput, ni: usize, o: *mut PtxOutput, no: usize) -> i32;
    fn ptx_last_error() -> *const c_char;
}

struct Model(*mut c_void);

impl Model {
    fn load(path: &str) -> Result<Model, String> {
        let path = CString::new(path).map_err(|e| e.to_string())?;
        let mut m = ptr::null_mut();
        let rc = unsafe { ptx_model_load(path.as_ptr(), c"onnxruntime".as_ptr(), ptr::null(), &mut m) };
        if rc != 0 {
            return Err(last_error(rc));
        }
        Ok(Model(m))
    }

    /// Run an NCHW float32 input; the first output goes into `out`.
    fn run(&self, x: &[f32], shape: &[i64], out: &mut [f32]) -> Result<Vec<i64>, String> {
        let input = PtxInput { name: ptr::null(), dtype: 1, rank: shape.len() as i32,
                               shape: shape.as_ptr(), data: x.as_ptr() as *const c_void };
        let mut o = PtxOutput { name: ptr::null(), data: out.as_mut_ptr() as *mut c_void,
                                capacity: std::mem::size_of_val(out), dtype: 0, rank: 0,
                                shape: [0; 8], nbytes: 0 };
        let rc = unsafe { ptx_run(self.0, &input, 1, &mut o, 1) };
        if rc != 0 {
            return Err(last_error(rc));
        }
        Ok(o.shape[..o.rank as usize].to_vec())
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        unsafe { ptx_model_free(self.0) }
    }
}

fn last_error(code: i32) -> String {
    let msg = unsafe { CStr::from_ptr(ptx_last_error()) };
    format!("ptx error {code}: {}", msg.to_string_lossy())
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: ptx-rust-example model.onnx");
    let model = Model::load(&path).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let x = vec![1.0f32; 3 * 4 * 4];
    let mut y = vec![0.0f32; x.len()];
    let shape = model.run(&x, &[1, 3, 4, 4], &mut y).expect("run");
    println!("api {} shape {:?} y0 {}", unsafe { ptx_api_version() }, shape, y[0]);
}
