// Target program: every form of operator new/delete. Prints "site FUNC inuse_bytes
// inuse_objects" for the sites whose blocks stay live.
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

struct alignas(64) Aligned { char c[192]; };
struct Big { char c[1000]; };

static std::vector<void *> keep_raw;

__attribute__((noinline)) void plain_new()
{
    for (int i = 0; i < 4; i++) keep_raw.push_back(new Big);
}

__attribute__((noinline)) void array_new()
{
    for (int i = 0; i < 2; i++) keep_raw.push_back(new int[250]);
}

__attribute__((noinline)) void nothrow_new()
{
    Big *b = new (std::nothrow) Big;
    int *a = new (std::nothrow) int[100];
    keep_raw.push_back(b);
    delete[] a;
}

__attribute__((noinline)) void aligned_new()
{
    for (int i = 0; i < 3; i++) keep_raw.push_back(new Aligned);
    Aligned *arr = new Aligned[2];
    delete[] arr;
    Aligned *n = new (std::nothrow) Aligned;
    delete n;
}

__attribute__((noinline)) void sized_delete()
{
    for (int i = 0; i < 10; i++) {
        Big *b = new Big;
        ::operator delete(b, sizeof(Big));
    }
    void *p = ::operator new(512, std::align_val_t(256));
    ::operator delete(p, 512, std::align_val_t(256));
}

__attribute__((noinline)) void containers()
{
    std::unordered_map<int, std::string> m;
    for (int i = 0; i < 1000; i++) m[i] = std::string(40, 'x');
    for (int i = 0; i < 1000; i += 2) m.erase(i);
}

static int handler_calls;
static void handler()
{
    // the program's new_handler runs when an allocation fails; uninstalling it makes the
    // next failure throw
    handler_calls++;
    std::set_new_handler(nullptr);
}

int main()
{
    plain_new();
    array_new();
    nothrow_new();
    aligned_new();
    sized_delete();
    containers();
    try {
        void *huge = ::operator new(~size_t(0) / 2);
        ::operator delete(huge);
        std::printf("bad_alloc not thrown\n");
        return 1;
    } catch (const std::bad_alloc &) {
    }
    std::set_new_handler(handler);
    try {
        void *huge = new char[~size_t(0) / 4];
        delete[] static_cast<char *>(huge);
        std::printf("bad_alloc not thrown after the new_handler\n");
        return 1;
    } catch (const std::bad_alloc &) {
    }
    if (handler_calls != 1) {
        std::printf("new_handler called %d times\n", handler_calls);
        return 1;
    }
    if (Big *b = new (std::nothrow) Big[~size_t(0) / 8192]) {
        delete[] b;
        std::printf("nothrow new of an impossible size returned a block\n");
        return 1;
    }
    std::printf("site plain_new() 4000 4\n");
    std::printf("site array_new() 2000 2\n");
    std::printf("site nothrow_new() 1000 1\n");
    std::printf("site aligned_new() 576 3\n");
    std::printf("site sized_delete() 0 0\n");
    return 0;
}
