// enhance_folder.cpp: enhance every image under a folder (recursive), names kept.
//   ptx_enhance_folder enhance.onnx photos/ out/ [backend]
// Decoding and encoding go through ptx's image helpers; the ModelSpec's
// pre/post-processing runs inside ptx (nothing re-implemented here).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <ptx/ptx.hpp>
#include <string>
#include <vector>

namespace fs = std::filesystem;

static bool is_image(const fs::path &p) {
  std::string s = p.extension().string();
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char *e : {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
    if (s == e) return true;
  return false;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    std::cerr << "usage: " << argv[0] << " model.onnx input_dir out_dir [backend]\n";
    return 2;
  }
  fs::path in_dir = argv[2], out_dir = argv[3];
  int done = 0, failed = 0;
  try {
    ptx::Engine engine(argv[1], argc > 4 ? argv[4] : "auto", R"({"spin": false})");
    std::vector<fs::path> files;
    for (const auto &e : fs::recursive_directory_iterator(in_dir))
      if (e.is_regular_file() && is_image(e.path())) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const fs::path &src : files) {
      fs::path dest = out_dir / fs::relative(src, in_dir);
      try {
        ptx::Image img = ptx::Image::read(src.string());
        ptx::Image out{img.width, img.height, std::vector<std::uint8_t>(img.rgb.size())};
        engine.enhance(img.rgb, img.width, img.height, out.rgb);
        fs::create_directories(dest.parent_path());
        out.write(dest.string());
        done++;
      } catch (const ptx::Error &e) {
        std::cerr << "skipped " << src.string() << " (" << ptx_status_name(e.code())
                  << "): " << e.what() << "\n";
        failed++;
      }
    }
  } catch (const ptx::Error &e) {
    std::cerr << "error (" << ptx_status_name(e.code()) << "): " << e.what() << "\n";
    return 1;
  }
  std::cout << done << " images, " << failed << " failed\n";
  return done > 0 ? 0 : 1;
}
