// An LD_PRELOAD shim for the integration tests: a disk whose fdatasync(2) stalls. While the file
// named by EVRELAY_TEST_STALL_SYNC exists, every fdatasync waits (at most 30 s, so that a broken
// test cannot hang a serve forever), then calls the real one. The production binary has no test
// hook: the test runs it with LD_PRELOAD set to this library (serve --durable-timeout).
#include <cstdlib>
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using SyncFunction = int (*)(int);

SyncFunction real_fdatasync() {
    static const auto real = reinterpret_cast<SyncFunction>(::dlsym(RTLD_NEXT, "fdatasync"));
    return real;
}

} // namespace

extern "C" int fdatasync(int fd) {
    if (const char* flag = std::getenv("EVRELAY_TEST_STALL_SYNC"); flag != nullptr) {
        struct stat info {};
        for (int waited = 0; waited < 3000 && ::stat(flag, &info) == 0; ++waited) {
            ::usleep(10'000);
        }
    }
    return real_fdatasync()(fd);
}
