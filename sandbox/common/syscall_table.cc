// The x86-64 syscall table. The rows are written out by hand from the
// kernel's syscall_64.tbl (Linux 6.18) and the argument types of each call;
// a compile-time pass spreads them into an array indexed by number, so a
// lookup is one bounds check and one load, with no locks or allocation.
#include "sandbox/common/syscall_table.h"

#include <array>
#include <initializer_list>
#include <utility>

namespace sandbox {
namespace {

using enum ArgKind;

// One row as written below; the argument count is taken from the list so it
// cannot disagree with it.
struct Row {
  constexpr Row(int number, const char* name,
                std::initializer_list<ArgKind> kinds, uint32_t classes)
      : nr(number),
        info{name, static_cast<uint8_t>(kinds.size()), {}, classes} {
    int i = 0;
    for (ArgKind kind : kinds) {
      if (i < 6) info.args[i] = kind;
      ++i;
    }
  }
  int nr;
  SyscallInfo info;
};

// Class shorthands, only to keep the rows short.
constexpr uint32_t kF = kClassFile;
constexpr uint32_t kP = kClassProcess;
constexpr uint32_t kN = kClassNetwork;
constexpr uint32_t kS = kClassSignal;
constexpr uint32_t kM = kClassMemory;
constexpr uint32_t kD = kClassDesc;
constexpr uint32_t kI = kClassIpc;
constexpr uint32_t kC = kClassCreds;
constexpr uint32_t kCl = kClassClock;
constexpr uint32_t kSt = kClassStat;
constexpr uint32_t kSf = kClassStatfs;

// Every syscall x86-64 defines, in number order. Numbers 337..423 carry no
// x86-64 syscall: calls added since Linux 5.1 share one number across
// architectures, from 424 on. 512 and up are the x32 ABI's, outside the
// table.
// clang-format off
constexpr Row kRows[] = {
    {0, "read", {kFd, kOutBuf, kUint}, kD},
    {1, "write", {kFd, kInBuf, kUint}, kD},
    {2, "open", {kPath, kOpenFlags, kMode}, kF | kD},
    {3, "close", {kFd}, kD},
    {4, "stat", {kPath, kPtr}, kF | kSt},
    {5, "fstat", {kFd, kPtr}, kD | kSt},
    {6, "lstat", {kPath, kPtr}, kF | kSt},
    {7, "poll", {kPtr, kUint, kInt}, kD},
    {8, "lseek", {kFd, kLong, kInt}, kD},
    {9, "mmap", {kPtr, kUint, kHex, kHex, kFd, kHex}, kD | kM},
    {10, "mprotect", {kPtr, kUint, kHex}, kM},
    {11, "munmap", {kPtr, kUint}, kM},
    {12, "brk", {kPtr}, kM},
    {13, "rt_sigaction", {kSignal, kPtr, kPtr, kUint}, kS},
    {14, "rt_sigprocmask", {kInt, kPtr, kPtr, kUint}, kS},
    {15, "rt_sigreturn", {}, kS},
    {16, "ioctl", {kFd, kHex, kHex}, kD},
    {17, "pread64", {kFd, kOutBuf, kUint, kLong}, kD},
    {18, "pwrite64", {kFd, kInBuf, kUint, kLong}, kD},
    {19, "readv", {kFd, kPtr, kInt}, kD},
    {20, "writev", {kFd, kPtr, kInt}, kD},
    {21, "access", {kPath, kInt}, kF},
    {22, "pipe", {kPtr}, kD},
    {23, "select", {kInt, kPtr, kPtr, kPtr, kPtr}, kD},
    {24, "sched_yield", {}, 0},
    {25, "mremap", {kPtr, kUint, kUint, kHex, kPtr}, kM},
    {26, "msync", {kPtr, kUint, kHex}, kM},
    {27, "mincore", {kPtr, kUint, kPtr}, kM},
    {28, "madvise", {kPtr, kUint, kInt}, kM},
    {29, "shmget", {kHex, kUint, kHex}, kI},
    {30, "shmat", {kInt, kPtr, kHex}, kI | kM},
    {31, "shmctl", {kInt, kInt, kPtr}, kI},
    {32, "dup", {kFd}, kD},
    {33, "dup2", {kFd, kFd}, kD},
    {34, "pause", {}, kS},
    {35, "nanosleep", {kPtr, kPtr}, 0},
    {36, "getitimer", {kInt, kPtr}, 0},
    {37, "alarm", {kUint}, 0},
    {38, "setitimer", {kInt, kPtr, kPtr}, 0},
    {39, "getpid", {}, 0},
    {40, "sendfile", {kFd, kFd, kPtr, kUint}, kD | kN},
    {41, "socket", {kInt, kHex, kInt}, kN | kD},
    {42, "connect", {kFd, kPtr, kUint}, kN | kD},
    {43, "accept", {kFd, kPtr, kPtr}, kN | kD},
    {44, "sendto", {kFd, kInBuf, kUint, kHex, kPtr, kUint}, kN | kD},
    {45, "recvfrom", {kFd, kOutBuf, kUint, kHex, kPtr, kPtr}, kN | kD},
    {46, "sendmsg", {kFd, kPtr, kHex}, kN | kD},
    {47, "recvmsg", {kFd, kPtr, kHex}, kN | kD},
    {48, "shutdown", {kFd, kInt}, kN | kD},
    {49, "bind", {kFd, kPtr, kUint}, kN | kD},
    {50, "listen", {kFd, kInt}, kN | kD},
    {51, "getsockname", {kFd, kPtr, kPtr}, kN | kD},
    {52, "getpeername", {kFd, kPtr, kPtr}, kN | kD},
    {53, "socketpair", {kInt, kHex, kInt, kPtr}, kN | kD},
    {54, "setsockopt", {kFd, kInt, kInt, kPtr, kUint}, kN | kD},
    {55, "getsockopt", {kFd, kInt, kInt, kPtr, kPtr}, kN | kD},
    // x86-64 passes clone's child tid before the tls word.
    {56, "clone", {kHex, kPtr, kPtr, kPtr, kHex}, kP},
    {57, "fork", {}, kP},
    {58, "vfork", {}, kP},
    {59, "execve", {kPath, kStrArray, kEnvArray}, kF | kP},
    {60, "exit", {kInt}, kP},
    {61, "wait4", {kInt, kPtr, kHex, kPtr}, kP},
    {62, "kill", {kInt, kSignal}, kS | kP},
    {63, "uname", {kPtr}, 0},
    {64, "semget", {kHex, kInt, kHex}, kI},
    {65, "semop", {kInt, kPtr, kUint}, kI},
    {66, "semctl", {kInt, kInt, kInt, kHex}, kI},
    {67, "shmdt", {kPtr}, kI | kM},
    {68, "msgget", {kHex, kHex}, kI},
    {69, "msgsnd", {kInt, kPtr, kUint, kHex}, kI},
    {70, "msgrcv", {kInt, kPtr, kUint, kLong, kHex}, kI},
    {71, "msgctl", {kInt, kInt, kPtr}, kI},
    {72, "fcntl", {kFd, kInt, kHex}, kD},
    {73, "flock", {kFd, kInt}, kD},
    {74, "fsync", {kFd}, kD},
    {75, "fdatasync", {kFd}, kD},
    {76, "truncate", {kPath, kLong}, kF},
    {77, "ftruncate", {kFd, kLong}, kD},
    {78, "getdents", {kFd, kPtr, kUint}, kD},
    {79, "getcwd", {kOutBuf, kUint}, kF},
    {80, "chdir", {kPath}, kF},
    {81, "fchdir", {kFd}, kD},
    {82, "rename", {kPath, kPath}, kF},
    {83, "mkdir", {kPath, kMode}, kF},
    {84, "rmdir", {kPath}, kF},
    {85, "creat", {kPath, kMode}, kF | kD},
    {86, "link", {kPath, kPath}, kF},
    {87, "unlink", {kPath}, kF},
    {88, "symlink", {kPath, kPath}, kF},
    {89, "readlink", {kPath, kOutBuf, kUint}, kF},
    {90, "chmod", {kPath, kMode}, kF},
    {91, "fchmod", {kFd, kMode}, kD},
    {92, "chown", {kPath, kInt, kInt}, kF},
    {93, "fchown", {kFd, kInt, kInt}, kD},
    {94, "lchown", {kPath, kInt, kInt}, kF},
    {95, "umask", {kMode}, 0},
    {96, "gettimeofday", {kPtr, kPtr}, kCl},
    {97, "getrlimit", {kInt, kPtr}, 0},
    {98, "getrusage", {kInt, kPtr}, 0},
    {99, "sysinfo", {kPtr}, 0},
    {100, "times", {kPtr}, 0},
    {101, "ptrace", {kInt, kInt, kPtr, kPtr}, 0},
    {102, "getuid", {}, kC},
    {103, "syslog", {kInt, kPtr, kInt}, 0},
    {104, "getgid", {}, kC},
    {105, "setuid", {kInt}, kC},
    {106, "setgid", {kInt}, kC},
    {107, "geteuid", {}, kC},
    {108, "getegid", {}, kC},
    {109, "setpgid", {kInt, kInt}, 0},
    {110, "getppid", {}, 0},
    {111, "getpgrp", {}, 0},
    {112, "setsid", {}, 0},
    {113, "setreuid", {kInt, kInt}, kC},
    {114, "setregid", {kInt, kInt}, kC},
    {115, "getgroups", {kInt, kPtr}, kC},
    {116, "setgroups", {kInt, kPtr}, kC},
    {117, "setresuid", {kInt, kInt, kInt}, kC},
    {118, "getresuid", {kPtr, kPtr, kPtr}, kC},
    {119, "setresgid", {kInt, kInt, kInt}, kC},
    {120, "getresgid", {kPtr, kPtr, kPtr}, kC},
    {121, "getpgid", {kInt}, 0},
    {122, "setfsuid", {kInt}, kC},
    {123, "setfsgid", {kInt}, kC},
    {124, "getsid", {kInt}, 0},
    {125, "capget", {kPtr, kPtr}, kC},
    {126, "capset", {kPtr, kPtr}, kC},
    {127, "rt_sigpending", {kPtr, kUint}, kS},
    {128, "rt_sigtimedwait", {kPtr, kPtr, kPtr, kUint}, kS},
    {129, "rt_sigqueueinfo", {kInt, kSignal, kPtr}, kS | kP},
    {130, "rt_sigsuspend", {kPtr, kUint}, kS},
    {131, "sigaltstack", {kPtr, kPtr}, kS},
    {132, "utime", {kPath, kPtr}, kF},
    {133, "mknod", {kPath, kMode, kHex}, kF},
    {134, "uselib", {kPath}, kF},
    {135, "personality", {kHex}, 0},
    {136, "ustat", {kHex, kPtr}, kSf},
    {137, "statfs", {kPath, kPtr}, kF | kSf},
    {138, "fstatfs", {kFd, kPtr}, kD | kSf},
    {139, "sysfs", {kInt, kHex, kHex}, 0},
    {140, "getpriority", {kInt, kInt}, 0},
    {141, "setpriority", {kInt, kInt, kInt}, 0},
    {142, "sched_setparam", {kInt, kPtr}, 0},
    {143, "sched_getparam", {kInt, kPtr}, 0},
    {144, "sched_setscheduler", {kInt, kInt, kPtr}, 0},
    {145, "sched_getscheduler", {kInt}, 0},
    {146, "sched_get_priority_max", {kInt}, 0},
    {147, "sched_get_priority_min", {kInt}, 0},
    {148, "sched_rr_get_interval", {kInt, kPtr}, 0},
    {149, "mlock", {kPtr, kUint}, kM},
    {150, "munlock", {kPtr, kUint}, kM},
    {151, "mlockall", {kHex}, kM},
    {152, "munlockall", {}, kM},
    {153, "vhangup", {}, 0},
    {154, "modify_ldt", {kInt, kPtr, kUint}, 0},
    {155, "pivot_root", {kPath, kPath}, kF},
    {156, "_sysctl", {kPtr}, 0},
    {157, "prctl", {kInt, kHex, kHex, kHex, kHex}, 0},
    {158, "arch_prctl", {kHex, kHex}, kP},
    {159, "adjtimex", {kPtr}, kCl},
    {160, "setrlimit", {kInt, kPtr}, 0},
    {161, "chroot", {kPath}, kF},
    {162, "sync", {}, 0},
    {163, "acct", {kPath}, kF},
    {164, "settimeofday", {kPtr, kPtr}, kCl},
    {165, "mount", {kPath, kPath, kPath, kHex, kPtr}, kF},
    {166, "umount2", {kPath, kHex}, kF},
    {167, "swapon", {kPath, kHex}, kF},
    {168, "swapoff", {kPath}, kF},
    {169, "reboot", {kHex, kHex, kHex, kPtr}, 0},
    {170, "sethostname", {kInBuf, kUint}, 0},
    {171, "setdomainname", {kInBuf, kUint}, 0},
    {172, "iopl", {kInt}, 0},
    {173, "ioperm", {kHex, kUint, kInt}, 0},
    // 174..185 (and 205, 211, 214, 215, 236 below) are numbers the kernel
    // reserves for calls it no longer or never implemented; they return
    // ENOSYS but programs still probe them.
    {174, "create_module", {kPath, kUint}, 0},
    {175, "init_module", {kPtr, kUint, kPath}, 0},
    {176, "delete_module", {kPath, kHex}, 0},
    {177, "get_kernel_syms", {kPtr}, 0},
    {178, "query_module", {kPath, kInt, kPtr, kUint, kPtr}, 0},
    {179, "quotactl", {kHex, kPath, kInt, kPtr}, kF},
    {180, "nfsservctl", {kInt, kPtr, kPtr}, 0},
    {181, "getpmsg", {kHex, kHex, kHex, kHex, kHex}, 0},
    {182, "putpmsg", {kHex, kHex, kHex, kHex, kHex}, 0},
    {183, "afs_syscall", {kHex, kHex, kHex, kHex, kHex}, 0},
    {184, "tuxcall", {kHex, kHex, kHex}, 0},
    {185, "security", {kHex, kHex, kHex}, 0},
    {186, "gettid", {}, 0},
    {187, "readahead", {kFd, kLong, kUint}, kD},
    {188, "setxattr", {kPath, kPath, kInBuf, kUint, kHex}, kF},
    {189, "lsetxattr", {kPath, kPath, kInBuf, kUint, kHex}, kF},
    {190, "fsetxattr", {kFd, kPath, kInBuf, kUint, kHex}, kD},
    {191, "getxattr", {kPath, kPath, kOutBuf, kUint}, kF},
    {192, "lgetxattr", {kPath, kPath, kOutBuf, kUint}, kF},
    {193, "fgetxattr", {kFd, kPath, kOutBuf, kUint}, kD},
    {194, "listxattr", {kPath, kOutBuf, kUint}, kF},
    {195, "llistxattr", {kPath, kOutBuf, kUint}, kF},
    {196, "flistxattr", {kFd, kOutBuf, kUint}, kD},
    {197, "removexattr", {kPath, kPath}, kF},
    {198, "lremovexattr", {kPath, kPath}, kF},
    {199, "fremovexattr", {kFd, kPath}, kD},
    {200, "tkill", {kInt, kSignal}, kS | kP},
    {201, "time", {kPtr}, kCl},
    {202, "futex", {kPtr, kInt, kInt, kPtr, kPtr, kInt}, 0},
    {203, "sched_setaffinity", {kInt, kUint, kPtr}, 0},
    {204, "sched_getaffinity", {kInt, kUint, kPtr}, 0},
    {205, "set_thread_area", {kPtr}, 0},
    {206, "io_setup", {kUint, kPtr}, kM},
    {207, "io_destroy", {kHex}, kM},
    {208, "io_getevents", {kHex, kLong, kLong, kPtr, kPtr}, 0},
    {209, "io_submit", {kHex, kLong, kPtr}, 0},
    {210, "io_cancel", {kHex, kPtr, kPtr}, 0},
    {211, "get_thread_area", {kPtr}, 0},
    {212, "lookup_dcookie", {kHex, kPtr, kUint}, 0},
    {213, "epoll_create", {kInt}, kD},
    {214, "epoll_ctl_old", {kHex, kHex, kHex, kHex}, 0},
    {215, "epoll_wait_old", {kHex, kHex, kHex, kHex}, 0},
    {216, "remap_file_pages", {kPtr, kUint, kHex, kUint, kHex}, kM},
    {217, "getdents64", {kFd, kPtr, kUint}, kD},
    {218, "set_tid_address", {kPtr}, 0},
    {219, "restart_syscall", {}, 0},
    {220, "semtimedop", {kInt, kPtr, kUint, kPtr}, kI},
    {221, "fadvise64", {kFd, kLong, kLong, kInt}, kD},
    {222, "timer_create", {kInt, kPtr, kPtr}, 0},
    {223, "timer_settime", {kInt, kHex, kPtr, kPtr}, 0},
    {224, "timer_gettime", {kInt, kPtr}, 0},
    {225, "timer_getoverrun", {kInt}, 0},
    {226, "timer_delete", {kInt}, 0},
    {227, "clock_settime", {kInt, kPtr}, kCl},
    {228, "clock_gettime", {kInt, kPtr}, kCl},
    {229, "clock_getres", {kInt, kPtr}, kCl},
    {230, "clock_nanosleep", {kInt, kHex, kPtr, kPtr}, 0},
    {231, "exit_group", {kInt}, kP},
    {232, "epoll_wait", {kFd, kPtr, kInt, kInt}, kD},
    {233, "epoll_ctl", {kFd, kInt, kFd, kPtr}, kD},
    {234, "tgkill", {kInt, kInt, kSignal}, kS | kP},
    {235, "utimes", {kPath, kPtr}, kF},
    {236, "vserver", {kHex, kHex, kHex, kHex, kHex}, 0},
    {237, "mbind", {kPtr, kUint, kInt, kPtr, kUint, kHex}, kM},
    {238, "set_mempolicy", {kInt, kPtr, kUint}, kM},
    {239, "get_mempolicy", {kPtr, kPtr, kUint, kPtr, kHex}, kM},
    {240, "mq_open", {kPath, kOpenFlags, kMode, kPtr}, kD},
    {241, "mq_unlink", {kPath}, 0},
    {242, "mq_timedsend", {kFd, kInBuf, kUint, kUint, kPtr}, kD},
    {243, "mq_timedreceive", {kFd, kOutBuf, kUint, kPtr, kPtr}, kD},
    {244, "mq_notify", {kFd, kPtr}, kD},
    {245, "mq_getsetattr", {kFd, kPtr, kPtr}, kD},
    {246, "kexec_load", {kHex, kUint, kPtr, kHex}, 0},
    {247, "waitid", {kInt, kInt, kPtr, kHex, kPtr}, kP},
    {248, "add_key", {kPath, kPath, kInBuf, kUint, kInt}, 0},
    {249, "request_key", {kPath, kPath, kPath, kInt}, 0},
    {250, "keyctl", {kInt, kHex, kHex, kHex, kHex}, 0},
    {251, "ioprio_set", {kInt, kInt, kHex}, 0},
    {252, "ioprio_get", {kInt, kInt}, 0},
    {253, "inotify_init", {}, kD},
    {254, "inotify_add_watch", {kFd, kPath, kHex}, kF | kD},
    {255, "inotify_rm_watch", {kFd, kInt}, kD},
    {256, "migrate_pages", {kInt, kUint, kPtr, kPtr}, kM},
    {257, "openat", {kDirFd, kPath, kOpenFlags, kMode}, kF | kD},
    {258, "mkdirat", {kDirFd, kPath, kMode}, kF | kD},
    {259, "mknodat", {kDirFd, kPath, kMode, kHex}, kF | kD},
    {260, "fchownat", {kDirFd, kPath, kInt, kInt, kHex}, kF | kD},
    {261, "futimesat", {kDirFd, kPath, kPtr}, kF | kD},
    {262, "newfstatat", {kDirFd, kPath, kPtr, kHex}, kF | kD | kSt},
    {263, "unlinkat", {kDirFd, kPath, kHex}, kF | kD},
    {264, "renameat", {kDirFd, kPath, kDirFd, kPath}, kF | kD},
    {265, "linkat", {kDirFd, kPath, kDirFd, kPath, kHex}, kF | kD},
    {266, "symlinkat", {kPath, kDirFd, kPath}, kF | kD},
    {267, "readlinkat", {kDirFd, kPath, kOutBuf, kUint}, kF | kD},
    {268, "fchmodat", {kDirFd, kPath, kMode}, kF | kD},
    {269, "faccessat", {kDirFd, kPath, kInt}, kF | kD},
    {270, "pselect6", {kInt, kPtr, kPtr, kPtr, kPtr, kPtr}, kD},
    {271, "ppoll", {kPtr, kUint, kPtr, kPtr, kUint}, kD},
    {272, "unshare", {kHex}, kP},
    {273, "set_robust_list", {kPtr, kUint}, 0},
    {274, "get_robust_list", {kInt, kPtr, kPtr}, 0},
    {275, "splice", {kFd, kPtr, kFd, kPtr, kUint, kHex}, kD},
    {276, "tee", {kFd, kFd, kUint, kHex}, kD},
    {277, "sync_file_range", {kFd, kLong, kLong, kHex}, kD},
    {278, "vmsplice", {kFd, kPtr, kUint, kHex}, kD},
    {279, "move_pages", {kInt, kUint, kPtr, kPtr, kPtr, kHex}, kM},
    {280, "utimensat", {kDirFd, kPath, kPtr, kHex}, kF | kD},
    {281, "epoll_pwait", {kFd, kPtr, kInt, kInt, kPtr, kUint}, kD},
    {282, "signalfd", {kFd, kPtr, kUint}, kD | kS},
    {283, "timerfd_create", {kInt, kHex}, kD},
    {284, "eventfd", {kUint}, kD},
    {285, "fallocate", {kFd, kHex, kLong, kLong}, kD},
    {286, "timerfd_settime", {kFd, kHex, kPtr, kPtr}, kD},
    {287, "timerfd_gettime", {kFd, kPtr}, kD},
    {288, "accept4", {kFd, kPtr, kPtr, kHex}, kN | kD},
    {289, "signalfd4", {kFd, kPtr, kUint, kHex}, kD | kS},
    {290, "eventfd2", {kUint, kHex}, kD},
    {291, "epoll_create1", {kHex}, kD},
    {292, "dup3", {kFd, kFd, kFdFlags}, kD},
    {293, "pipe2", {kPtr, kFdFlags}, kD},
    {294, "inotify_init1", {kHex}, kD},
    // On x86-64 the offset fits the first of the two position words; the
    // second is ignored, so it is not printed.
    {295, "preadv", {kFd, kPtr, kInt, kLong}, kD},
    {296, "pwritev", {kFd, kPtr, kInt, kLong}, kD},
    {297, "rt_tgsigqueueinfo", {kInt, kInt, kSignal, kPtr}, kS | kP},
    {298, "perf_event_open", {kPtr, kInt, kInt, kFd, kHex}, kD},
    {299, "recvmmsg", {kFd, kPtr, kUint, kHex, kPtr}, kN | kD},
    {300, "fanotify_init", {kHex, kOpenFlags}, kD},
    {301, "fanotify_mark", {kFd, kHex, kHex, kDirFd, kPath}, kF | kD},
    {302, "prlimit64", {kInt, kInt, kPtr, kPtr}, 0},
    {303, "name_to_handle_at", {kDirFd, kPath, kPtr, kPtr, kHex}, kF | kD},
    {304, "open_by_handle_at", {kFd, kPtr, kOpenFlags}, kD},
    {305, "clock_adjtime", {kInt, kPtr}, kCl},
    {306, "syncfs", {kFd}, kD},
    {307, "sendmmsg", {kFd, kPtr, kUint, kHex}, kN | kD},
    {308, "setns", {kFd, kHex}, kD},
    {309, "getcpu", {kPtr, kPtr, kPtr}, 0},
    {310, "process_vm_readv", {kInt, kPtr, kUint, kPtr, kUint, kHex}, 0},
    {311, "process_vm_writev", {kInt, kPtr, kUint, kPtr, kUint, kHex}, 0},
    {312, "kcmp", {kInt, kInt, kInt, kHex, kHex}, 0},
    {313, "finit_module", {kFd, kPath, kHex}, kD},
    {314, "sched_setattr", {kInt, kPtr, kHex}, 0},
    {315, "sched_getattr", {kInt, kPtr, kUint, kHex}, 0},
    {316, "renameat2", {kDirFd, kPath, kDirFd, kPath, kHex}, kF | kD},
    {317, "seccomp", {kInt, kHex, kPtr}, 0},
    {318, "getrandom", {kOutBuf, kUint, kHex}, 0},
    {319, "memfd_create", {kPath, kHex}, kD},
    {320, "kexec_file_load", {kFd, kFd, kUint, kPath, kHex}, kD},
    {321, "bpf", {kInt, kPtr, kUint}, kD},
    {322, "execveat", {kDirFd, kPath, kStrArray, kEnvArray, kHex},
     kF | kD | kP},
    {323, "userfaultfd", {kHex}, kD},
    {324, "membarrier", {kInt, kHex, kInt}, 0},
    {325, "mlock2", {kPtr, kUint, kHex}, kM},
    {326, "copy_file_range", {kFd, kPtr, kFd, kPtr, kUint, kHex}, kD},
    {327, "preadv2", {kFd, kPtr, kInt, kLong, kLong, kHex}, kD},
    {328, "pwritev2", {kFd, kPtr, kInt, kLong, kLong, kHex}, kD},
    {329, "pkey_mprotect", {kPtr, kUint, kHex, kInt}, kM},
    {330, "pkey_alloc", {kHex, kHex}, 0},
    {331, "pkey_free", {kInt}, 0},
    {332, "statx", {kDirFd, kPath, kHex, kHex, kPtr}, kF | kD | kSt},
    {333, "io_pgetevents", {kHex, kLong, kLong, kPtr, kPtr, kPtr}, 0},
    {334, "rseq", {kPtr, kUint, kHex, kHex}, 0},
    // The uprobe trampolines' calls (Linux 6.11, 6.18), x86-64 only.
    {335, "uretprobe", {}, 0},
    {336, "uprobe", {}, 0},
    {424, "pidfd_send_signal", {kFd, kSignal, kPtr, kHex}, kD | kS | kP},
    {425, "io_uring_setup", {kUint, kPtr}, kD},
    {426, "io_uring_enter", {kFd, kUint, kUint, kHex, kPtr, kUint}, kD},
    {427, "io_uring_register", {kFd, kUint, kPtr, kUint}, kD},
    {428, "open_tree", {kDirFd, kPath, kHex}, kF | kD},
    {429, "move_mount", {kDirFd, kPath, kDirFd, kPath, kHex}, kF | kD},
    {430, "fsopen", {kPath, kHex}, kD},
    {431, "fsconfig", {kFd, kInt, kPath, kPtr, kInt}, kF | kD},
    {432, "fsmount", {kFd, kHex, kHex}, kD},
    {433, "fspick", {kDirFd, kPath, kHex}, kF | kD},
    {434, "pidfd_open", {kInt, kHex}, kD},
    {435, "clone3", {kPtr, kUint}, kP},
    {436, "close_range", {kUint, kUint, kHex}, kD},
    {437, "openat2", {kDirFd, kPath, kPtr, kUint}, kF | kD},
    {438, "pidfd_getfd", {kFd, kFd, kHex}, kD},
    {439, "faccessat2", {kDirFd, kPath, kInt, kHex}, kF | kD},
    {440, "process_madvise", {kFd, kPtr, kUint, kInt, kHex}, kD | kM},
    {441, "epoll_pwait2", {kFd, kPtr, kInt, kPtr, kPtr, kUint}, kD},
    {442, "mount_setattr", {kDirFd, kPath, kHex, kPtr, kUint}, kF | kD},
    {443, "quotactl_fd", {kFd, kHex, kInt, kPtr}, kD},
    {444, "landlock_create_ruleset", {kPtr, kUint, kHex}, kD},
    {445, "landlock_add_rule", {kFd, kInt, kPtr, kHex}, kD},
    {446, "landlock_restrict_self", {kFd, kHex}, kD},
    {447, "memfd_secret", {kHex}, kD},
    {448, "process_mrelease", {kFd, kHex}, kD},
    {449, "futex_waitv", {kPtr, kUint, kHex, kPtr, kInt}, 0},
    {450, "set_mempolicy_home_node", {kPtr, kUint, kUint, kHex}, kM},
    {451, "cachestat", {kFd, kPtr, kPtr, kHex}, kD},
    {452, "fchmodat2", {kDirFd, kPath, kMode, kHex}, kF | kD},
    {453, "map_shadow_stack", {kPtr, kUint, kHex}, kM},
    {454, "futex_wake", {kPtr, kHex, kInt, kHex}, 0},
    {455, "futex_wait", {kPtr, kHex, kHex, kHex, kPtr, kInt}, 0},
    {456, "futex_requeue", {kPtr, kHex, kInt, kInt}, 0},
    {457, "statmount", {kPtr, kPtr, kUint, kHex}, 0},
    {458, "listmount", {kPtr, kPtr, kUint, kHex}, 0},
    {459, "lsm_get_self_attr", {kUint, kPtr, kPtr, kHex}, 0},
    {460, "lsm_set_self_attr", {kUint, kPtr, kUint, kHex}, 0},
    {461, "lsm_list_modules", {kPtr, kPtr, kHex}, 0},
    {462, "mseal", {kPtr, kUint, kHex}, kM},
    {463, "setxattrat", {kDirFd, kPath, kHex, kPath, kPtr, kUint}, kF | kD},
    {464, "getxattrat", {kDirFd, kPath, kHex, kPath, kPtr, kUint}, kF | kD},
    {465, "listxattrat", {kDirFd, kPath, kHex, kOutBuf, kUint}, kF | kD},
    {466, "removexattrat", {kDirFd, kPath, kHex, kPath}, kF | kD},
    {467, "open_tree_attr", {kDirFd, kPath, kHex, kPtr, kUint}, kF | kD},
    {468, "file_getattr", {kDirFd, kPath, kPtr, kUint, kHex}, kF | kD},
    {469, "file_setattr", {kDirFd, kPath, kPtr, kUint, kHex}, kF | kD},
};
// clang-format on

// Checks the rows once, at compile time: numbers ascending (so none twice)
// and in range, at most six arguments, and every call that takes a
// descriptor in %desc. Unique names are left to the unit test's round trip,
// as comparing every pair here exceeds clang's constexpr step limit.
constexpr bool RowsAreConsistent() {
  int previous = -1;
  for (const Row& row : kRows) {
    if (row.nr <= previous || row.nr >= kSyscallTableSize) return false;
    previous = row.nr;
    if (row.info.name == nullptr || row.info.arg_count > 6) return false;
    for (int i = 0; i < row.info.arg_count; ++i) {
      ArgKind kind = row.info.args[i];
      if ((kind == kFd || kind == kDirFd) && !(row.info.classes & kD)) {
        return false;
      }
    }
  }
  return true;
}
static_assert(RowsAreConsistent(), "syscall rows are inconsistent");

// The rows spread out by number; gaps keep a null name.
constexpr std::array<SyscallInfo, kSyscallTableSize> kTable = [] {
  std::array<SyscallInfo, kSyscallTableSize> table{};
  for (const Row& row : kRows) table[row.nr] = row.info;
  return table;
}();

struct ClassName {
  std::string_view name;
  uint32_t bits;
};

// The %CLASS names ParseSyscallSet accepts, as strace spells them.
constexpr ClassName kClassNames[] = {
    {"file", kClassFile},       {"process", kClassProcess},
    {"network", kClassNetwork}, {"net", kClassNetwork},
    {"signal", kClassSignal},   {"memory", kClassMemory},
    {"desc", kClassDesc},       {"ipc", kClassIpc},
    {"creds", kClassCreds},     {"clock", kClassClock},
    {"stat", kClassStat},       {"statfs", kClassStatfs},
};

void SetError(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
}

}  // namespace

const SyscallInfo* LookupSyscall(long nr) {
  if (nr < 0 || nr >= kSyscallTableSize) return nullptr;
  const SyscallInfo* info = &kTable[nr];
  return info->name != nullptr ? info : nullptr;
}

int SyscallNumberByName(std::string_view name) {
  // A linear scan: this runs a few times per launch, never per syscall.
  for (const Row& row : kRows) {
    if (name == row.info.name) return row.nr;
  }
  return -1;
}

bool ParseSyscallSet(std::string_view text, SyscallSet* set,
                     std::string* error) {
  bool negate = false;
  if (!text.empty() && text.front() == '!') {
    negate = true;
    text.remove_prefix(1);
  }
  if (text.empty()) {
    SetError(error, "empty syscall set");
    return false;
  }

  // Build into a local set so a failed parse leaves *set untouched.
  SyscallSet result;
  while (true) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (item.empty()) {
      SetError(error, "empty name in syscall set");
      return false;
    }

    if (item == "all") {
      // Every number, also those without a syscall, so that "all" also
      // shows a program probing numbers this table does not know.
      result.set();
    } else if (item == "none") {
      // Adds nothing; "none" alone yields the empty set.
    } else if (item.front() == '%') {
      std::string_view class_name = item.substr(1);
      uint32_t bits = 0;
      for (const ClassName& entry : kClassNames) {
        if (entry.name == class_name) bits = entry.bits;
      }
      if (bits == 0) {
        SetError(error, "unknown syscall class '" + std::string(item) + "'");
        return false;
      }
      for (const Row& row : kRows) {
        if (row.info.classes & bits) result.set(row.nr);
      }
    } else {
      int nr = SyscallNumberByName(item);
      if (nr < 0) {
        SetError(error, "unknown syscall name '" + std::string(item) + "'");
        return false;
      }
      result.set(nr);
    }

    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }

  if (negate) result.flip();
  *set = result;
  return true;
}

}  // namespace sandbox
