#include "sandbox/common/syscall_table.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <string>
#include <string_view>

namespace sandbox {
namespace {

// Every syscall Debian 12's headers name, to check the hand-written table
// against the system's own numbering.
#define SANDBOX_HOST_SYSCALLS(X) \
  X(read) X(write) X(open) X(close) X(stat) X(fstat) X(lstat) X(poll) \
  X(lseek) X(mmap) X(mprotect) X(munmap) X(brk) X(rt_sigaction) \
  X(rt_sigprocmask) X(rt_sigreturn) X(ioctl) X(pread64) X(pwrite64) \
  X(readv) X(writev) X(access) X(pipe) X(select) X(sched_yield) X(mremap) \
  X(msync) X(mincore) X(madvise) X(shmget) X(shmat) X(shmctl) X(dup) \
  X(dup2) X(pause) X(nanosleep) X(getitimer) X(alarm) X(setitimer) \
  X(getpid) X(sendfile) X(socket) X(connect) X(accept) X(sendto) \
  X(recvfrom) X(sendmsg) X(recvmsg) X(shutdown) X(bind) X(listen) \
  X(getsockname) X(getpeername) X(socketpair) X(setsockopt) X(getsockopt) \
  X(clone) X(fork) X(vfork) X(execve) X(exit) X(wait4) X(kill) X(uname) \
  X(semget) X(semop) X(semctl) X(shmdt) X(msgget) X(msgsnd) X(msgrcv) \
  X(msgctl) X(fcntl) X(flock) X(fsync) X(fdatasync) X(truncate) \
  X(ftruncate) X(getdents) X(getcwd) X(chdir) X(fchdir) X(rename) X(mkdir) \
  X(rmdir) X(creat) X(link) X(unlink) X(symlink) X(readlink) X(chmod) \
  X(fchmod) X(chown) X(fchown) X(lchown) X(umask) X(gettimeofday) \
  X(getrlimit) X(getrusage) X(sysinfo) X(times) X(ptrace) X(getuid) \
  X(syslog) X(getgid) X(setuid) X(setgid) X(geteuid) X(getegid) X(setpgid) \
  X(getppid) X(getpgrp) X(setsid) X(setreuid) X(setregid) X(getgroups) \
  X(setgroups) X(setresuid) X(getresuid) X(setresgid) X(getresgid) \
  X(getpgid) X(setfsuid) X(setfsgid) X(getsid) X(capget) X(capset) \
  X(rt_sigpending) X(rt_sigtimedwait) X(rt_sigqueueinfo) X(rt_sigsuspend) \
  X(sigaltstack) X(utime) X(mknod) X(uselib) X(personality) X(ustat) \
  X(statfs) X(fstatfs) X(sysfs) X(getpriority) X(setpriority) \
  X(sched_setparam) X(sched_getparam) X(sched_setscheduler) \
  X(sched_getscheduler) X(sched_get_priority_max) X(sched_get_priority_min) \
  X(sched_rr_get_interval) X(mlock) X(munlock) X(mlockall) X(munlockall) \
  X(vhangup) X(modify_ldt) X(pivot_root) X(_sysctl) X(prctl) X(arch_prctl) \
  X(adjtimex) X(setrlimit) X(chroot) X(sync) X(acct) X(settimeofday) \
  X(mount) X(umount2) X(swapon) X(swapoff) X(reboot) X(sethostname) \
  X(setdomainname) X(iopl) X(ioperm) X(create_module) X(init_module) \
  X(delete_module) X(get_kernel_syms) X(query_module) X(quotactl) \
  X(nfsservctl) X(getpmsg) X(putpmsg) X(afs_syscall) X(tuxcall) X(security) \
  X(gettid) X(readahead) X(setxattr) X(lsetxattr) X(fsetxattr) X(getxattr) \
  X(lgetxattr) X(fgetxattr) X(listxattr) X(llistxattr) X(flistxattr) \
  X(removexattr) X(lremovexattr) X(fremovexattr) X(tkill) X(time) X(futex) \
  X(sched_setaffinity) X(sched_getaffinity) X(set_thread_area) X(io_setup) \
  X(io_destroy) X(io_getevents) X(io_submit) X(io_cancel) \
  X(get_thread_area) X(lookup_dcookie) X(epoll_create) X(epoll_ctl_old) \
  X(epoll_wait_old) X(remap_file_pages) X(getdents64) X(set_tid_address) \
  X(restart_syscall) X(semtimedop) X(fadvise64) X(timer_create) \
  X(timer_settime) X(timer_gettime) X(timer_getoverrun) X(timer_delete) \
  X(clock_settime) X(clock_gettime) X(clock_getres) X(clock_nanosleep) \
  X(exit_group) X(epoll_wait) X(epoll_ctl) X(tgkill) X(utimes) X(vserver) \
  X(mbind) X(set_mempolicy) X(get_mempolicy) X(mq_open) X(mq_unlink) \
  X(mq_timedsend) X(mq_timedreceive) X(mq_notify) X(mq_getsetattr) \
  X(kexec_load) X(waitid) X(add_key) X(request_key) X(keyctl) X(ioprio_set) \
  X(ioprio_get) X(inotify_init) X(inotify_add_watch) X(inotify_rm_watch) \
  X(migrate_pages) X(openat) X(mkdirat) X(mknodat) X(fchownat) X(futimesat) \
  X(newfstatat) X(unlinkat) X(renameat) X(linkat) X(symlinkat) \
  X(readlinkat) X(fchmodat) X(faccessat) X(pselect6) X(ppoll) X(unshare) \
  X(set_robust_list) X(get_robust_list) X(splice) X(tee) X(sync_file_range) \
  X(vmsplice) X(move_pages) X(utimensat) X(epoll_pwait) X(signalfd) \
  X(timerfd_create) X(eventfd) X(fallocate) X(timerfd_settime) \
  X(timerfd_gettime) X(accept4) X(signalfd4) X(eventfd2) X(epoll_create1) \
  X(dup3) X(pipe2) X(inotify_init1) X(preadv) X(pwritev) \
  X(rt_tgsigqueueinfo) X(perf_event_open) X(recvmmsg) X(fanotify_init) \
  X(fanotify_mark) X(prlimit64) X(name_to_handle_at) X(open_by_handle_at) \
  X(clock_adjtime) X(syncfs) X(sendmmsg) X(setns) X(getcpu) \
  X(process_vm_readv) X(process_vm_writev) X(kcmp) X(finit_module) \
  X(sched_setattr) X(sched_getattr) X(renameat2) X(seccomp) X(getrandom) \
  X(memfd_create) X(kexec_file_load) X(bpf) X(execveat) X(userfaultfd) \
  X(membarrier) X(mlock2) X(copy_file_range) X(preadv2) X(pwritev2) \
  X(pkey_mprotect) X(pkey_alloc) X(pkey_free) X(statx) X(io_pgetevents) \
  X(rseq) X(pidfd_send_signal) X(io_uring_setup) X(io_uring_enter) \
  X(io_uring_register) X(open_tree) X(move_mount) X(fsopen) X(fsconfig) \
  X(fsmount) X(fspick) X(pidfd_open) X(clone3) X(close_range) X(openat2) \
  X(pidfd_getfd) X(faccessat2) X(process_madvise) X(epoll_pwait2) \
  X(mount_setattr) X(quotactl_fd) X(landlock_create_ruleset) \
  X(landlock_add_rule) X(landlock_restrict_self) X(memfd_secret) \
  X(process_mrelease) X(futex_waitv) X(set_mempolicy_home_node) \

TEST(SyscallTableTest, AgreesWithHostHeaders) {
#define SANDBOX_CHECK_SYSCALL(sys)                             \
  EXPECT_EQ(SyscallNumberByName(#sys), SYS_##sys) << #sys;     \
  ASSERT_NE(LookupSyscall(SYS_##sys), nullptr) << #sys;        \
  EXPECT_STREQ(LookupSyscall(SYS_##sys)->name, #sys);
  SANDBOX_HOST_SYSCALLS(SANDBOX_CHECK_SYSCALL)
#undef SANDBOX_CHECK_SYSCALL
}

TEST(SyscallTableTest, KnowsWellKnownNumbers) {
  EXPECT_EQ(SyscallNumberByName("read"), 0);
  EXPECT_EQ(SyscallNumberByName("uname"), 63);
  EXPECT_EQ(SyscallNumberByName("getppid"), 110);
  EXPECT_EQ(SyscallNumberByName("openat"), 257);
  EXPECT_EQ(SyscallNumberByName("clone3"), 435);
  EXPECT_EQ(SyscallNumberByName("openat2"), 437);
  EXPECT_STREQ(LookupSyscall(257)->name, "openat");
  EXPECT_STREQ(LookupSyscall(435)->name, "clone3");
  EXPECT_STREQ(LookupSyscall(63)->name, "uname");
  EXPECT_STREQ(LookupSyscall(110)->name, "getppid");
}

TEST(SyscallTableTest, KnowsCallsNewerThanHostHeaders) {
  const std::pair<int, std::string_view> kNewer[] = {
      {451, "cachestat"},         {452, "fchmodat2"},
      {453, "map_shadow_stack"},  {454, "futex_wake"},
      {455, "futex_wait"},        {456, "futex_requeue"},
      {457, "statmount"},         {458, "listmount"},
      {459, "lsm_get_self_attr"}, {460, "lsm_set_self_attr"},
      {461, "lsm_list_modules"},  {462, "mseal"},
      {463, "setxattrat"},        {464, "getxattrat"},
      {465, "listxattrat"},       {466, "removexattrat"},
      {467, "open_tree_attr"},    {468, "file_getattr"},
      {469, "file_setattr"},
  };
  for (const auto& [nr, name] : kNewer) {
    EXPECT_EQ(SyscallNumberByName(name), nr) << name;
  }
}

TEST(SyscallTableTest, GapsAndOutOfRangeNumbersHaveNoEntry) {
  for (long nr : {-1L, 337L, 400L, 423L, 470L, 511L, 512L, 100000L}) {
    EXPECT_EQ(LookupSyscall(nr), nullptr) << nr;
  }
  EXPECT_EQ(SyscallNumberByName(""), -1);
  EXPECT_EQ(SyscallNumberByName("OPENAT"), -1);
  EXPECT_EQ(SyscallNumberByName("open "), -1);
  EXPECT_EQ(SyscallNumberByName("syscall_1000"), -1);
}

TEST(SyscallTableTest, NamesAndNumbersRoundTripForEveryEntry) {
  int entries = 0;
  for (int nr = 0; nr < kSyscallTableSize; ++nr) {
    const SyscallInfo* info = LookupSyscall(nr);
    if (info == nullptr) continue;
    ++entries;
    ASSERT_NE(info->name, nullptr);
    EXPECT_EQ(SyscallNumberByName(info->name), nr) << info->name;
    EXPECT_LE(info->arg_count, 6) << info->name;
  }
  // 0..336 and 424..469 (Linux 6.18).
  EXPECT_EQ(entries, 337 + 46);
}

TEST(SyscallTableTest, DescribesArgumentsOfCommonCalls) {
  const SyscallInfo* openat = LookupSyscall(SYS_openat);
  ASSERT_EQ(openat->arg_count, 4);
  EXPECT_EQ(openat->args[0], ArgKind::kDirFd);
  EXPECT_EQ(openat->args[1], ArgKind::kPath);
  EXPECT_EQ(openat->args[2], ArgKind::kOpenFlags);
  EXPECT_EQ(openat->args[3], ArgKind::kMode);

  const SyscallInfo* read = LookupSyscall(SYS_read);
  ASSERT_EQ(read->arg_count, 3);
  EXPECT_EQ(read->args[0], ArgKind::kFd);
  EXPECT_EQ(read->args[1], ArgKind::kOutBuf);

  const SyscallInfo* write = LookupSyscall(SYS_write);
  ASSERT_EQ(write->arg_count, 3);
  EXPECT_EQ(write->args[1], ArgKind::kInBuf);

  const SyscallInfo* execve = LookupSyscall(SYS_execve);
  ASSERT_EQ(execve->arg_count, 3);
  EXPECT_EQ(execve->args[0], ArgKind::kPath);
  EXPECT_EQ(execve->args[1], ArgKind::kStrArray);
  EXPECT_EQ(execve->args[2], ArgKind::kEnvArray);

  const SyscallInfo* execveat = LookupSyscall(SYS_execveat);
  ASSERT_EQ(execveat->arg_count, 5);
  EXPECT_EQ(execveat->args[0], ArgKind::kDirFd);
  EXPECT_EQ(execveat->args[2], ArgKind::kStrArray);
  EXPECT_EQ(execveat->args[3], ArgKind::kEnvArray);

  EXPECT_EQ(LookupSyscall(SYS_kill)->args[1], ArgKind::kSignal);
  EXPECT_EQ(LookupSyscall(SYS_rt_sigaction)->args[0], ArgKind::kSignal);
  EXPECT_EQ(LookupSyscall(SYS_mkdir)->args[1], ArgKind::kMode);
  EXPECT_EQ(LookupSyscall(SYS_lseek)->args[1], ArgKind::kLong);
  EXPECT_EQ(LookupSyscall(SYS_getpid)->arg_count, 0);
  EXPECT_EQ(LookupSyscall(SYS_mmap)->arg_count, 6);
  EXPECT_EQ(LookupSyscall(SYS_exit_group)->arg_count, 1);
}

TEST(SyscallTableTest, DescriptorArgumentsImplyDescClass) {
  for (int nr = 0; nr < kSyscallTableSize; ++nr) {
    const SyscallInfo* info = LookupSyscall(nr);
    if (info == nullptr) continue;
    for (int i = 0; i < info->arg_count; ++i) {
      if (info->args[i] == ArgKind::kFd || info->args[i] == ArgKind::kDirFd) {
        EXPECT_TRUE(info->classes & kClassDesc) << info->name;
      }
    }
  }
}

TEST(SyscallTableTest, ClassesMatchStraceConventions) {
  auto classes = [](int nr) { return LookupSyscall(nr)->classes; };
  EXPECT_EQ(classes(SYS_openat), kClassFile | kClassDesc);
  EXPECT_EQ(classes(SYS_read), kClassDesc);
  EXPECT_EQ(classes(SYS_execve), kClassFile | kClassProcess);
  EXPECT_EQ(classes(SYS_kill), kClassSignal | kClassProcess);
  EXPECT_EQ(classes(SYS_rt_sigprocmask), kClassSignal);
  EXPECT_EQ(classes(SYS_connect), kClassNetwork | kClassDesc);
  EXPECT_EQ(classes(SYS_munmap), kClassMemory);
  EXPECT_EQ(classes(SYS_mmap), kClassMemory | kClassDesc);
  EXPECT_EQ(classes(SYS_shmget), kClassIpc);
  EXPECT_EQ(classes(SYS_setresuid), kClassCreds);
  EXPECT_EQ(classes(SYS_clock_gettime), kClassClock);
  EXPECT_EQ(classes(SYS_stat), kClassFile | kClassStat);
  EXPECT_EQ(classes(SYS_fstatfs), kClassDesc | kClassStatfs);
  EXPECT_EQ(classes(SYS_clone3), kClassProcess);
  EXPECT_EQ(classes(SYS_getpid), 0u);
}

// Returns the names of the syscalls in `set` joined by ',' in number order.
std::string Names(const SyscallSet& set) {
  std::string names;
  for (int nr = 0; nr < kSyscallTableSize; ++nr) {
    if (!set.test(nr)) continue;
    if (!names.empty()) names += ',';
    const SyscallInfo* info = LookupSyscall(nr);
    names += info != nullptr ? info->name : "#" + std::to_string(nr);
  }
  return names;
}

TEST(ParseSyscallSetTest, ParsesNames) {
  SyscallSet set;
  std::string error;
  ASSERT_TRUE(ParseSyscallSet("close,openat,read", &set, &error)) << error;
  EXPECT_EQ(Names(set), "read,close,openat");
  ASSERT_TRUE(ParseSyscallSet("clone3", &set, &error)) << error;
  EXPECT_EQ(Names(set), "clone3");
}

TEST(ParseSyscallSetTest, ParsesAllAndNone) {
  SyscallSet set;
  std::string error;
  ASSERT_TRUE(ParseSyscallSet("all", &set, &error)) << error;
  EXPECT_EQ(set.count(), static_cast<size_t>(kSyscallTableSize));
  ASSERT_TRUE(ParseSyscallSet("none", &set, &error)) << error;
  EXPECT_TRUE(set.none());
  ASSERT_TRUE(ParseSyscallSet("!none", &set, &error)) << error;
  EXPECT_TRUE(set.all());
  ASSERT_TRUE(ParseSyscallSet("!all", &set, &error)) << error;
  EXPECT_TRUE(set.none());
}

TEST(ParseSyscallSetTest, ParsesClasses) {
  SyscallSet set;
  std::string error;
  ASSERT_TRUE(ParseSyscallSet("%stat", &set, &error)) << error;
  EXPECT_EQ(Names(set), "stat,fstat,lstat,newfstatat,statx");
  ASSERT_TRUE(ParseSyscallSet("%statfs", &set, &error)) << error;
  EXPECT_EQ(Names(set), "ustat,statfs,fstatfs");
  ASSERT_TRUE(ParseSyscallSet("%clock", &set, &error)) << error;
  EXPECT_EQ(Names(set),
            "gettimeofday,adjtimex,settimeofday,time,clock_settime,"
            "clock_gettime,clock_getres,clock_adjtime");
  ASSERT_TRUE(ParseSyscallSet("%ipc", &set, &error)) << error;
  EXPECT_EQ(Names(set),
            "shmget,shmat,shmctl,semget,semop,semctl,shmdt,msgget,msgsnd,"
            "msgrcv,msgctl,semtimedop");

  ASSERT_TRUE(ParseSyscallSet("%file", &set, &error)) << error;
  for (int nr : {SYS_open, SYS_openat, SYS_openat2, SYS_execve, SYS_stat,
                 SYS_unlinkat, SYS_readlink, SYS_chdir, SYS_getcwd}) {
    EXPECT_TRUE(set.test(nr)) << nr;
  }
  for (int nr : {SYS_read, SYS_close, SYS_fstat, SYS_mmap}) {
    EXPECT_FALSE(set.test(nr)) << nr;
  }

  ASSERT_TRUE(ParseSyscallSet("%process", &set, &error)) << error;
  for (int nr : {SYS_clone, SYS_clone3, SYS_fork, SYS_vfork, SYS_execve,
                 SYS_execveat, SYS_exit, SYS_exit_group, SYS_wait4,
                 SYS_waitid}) {
    EXPECT_TRUE(set.test(nr)) << nr;
  }
  EXPECT_FALSE(set.test(SYS_getpid));
}

TEST(ParseSyscallSetTest, NetIsNetwork) {
  SyscallSet net, network;
  std::string error;
  ASSERT_TRUE(ParseSyscallSet("%net", &net, &error)) << error;
  ASSERT_TRUE(ParseSyscallSet("%network", &network, &error)) << error;
  EXPECT_EQ(net, network);
  EXPECT_TRUE(net.test(SYS_socket));
  EXPECT_TRUE(net.test(SYS_sendto));
  EXPECT_FALSE(net.test(SYS_read));
}

TEST(ParseSyscallSetTest, CombinesItems) {
  SyscallSet set;
  std::string error;
  ASSERT_TRUE(ParseSyscallSet("%statfs,write,none", &set, &error)) << error;
  EXPECT_EQ(Names(set), "write,ustat,statfs,fstatfs");
  ASSERT_TRUE(ParseSyscallSet("%signal,%memory", &set, &error)) << error;
  EXPECT_TRUE(set.test(SYS_rt_sigaction));
  EXPECT_TRUE(set.test(SYS_brk));
  EXPECT_FALSE(set.test(SYS_openat));
}

TEST(ParseSyscallSetTest, NegatesWholeSet) {
  SyscallSet set;
  std::string error;
  ASSERT_TRUE(ParseSyscallSet("!read,write", &set, &error)) << error;
  EXPECT_EQ(set.count(), static_cast<size_t>(kSyscallTableSize - 2));
  EXPECT_FALSE(set.test(SYS_read));
  EXPECT_FALSE(set.test(SYS_write));
  EXPECT_TRUE(set.test(SYS_openat));

  SyscallSet memory;
  ASSERT_TRUE(ParseSyscallSet("%memory", &memory, &error)) << error;
  ASSERT_TRUE(ParseSyscallSet("!%memory", &set, &error)) << error;
  EXPECT_EQ(set, ~memory);
}

TEST(ParseSyscallSetTest, RejectsUnknownNames) {
  SyscallSet set;
  set.set(SYS_read);
  std::string error;
  EXPECT_FALSE(ParseSyscallSet("read,foo", &set, &error));
  EXPECT_EQ(error, "unknown syscall name 'foo'");
  EXPECT_FALSE(ParseSyscallSet("%foo", &set, &error));
  EXPECT_EQ(error, "unknown syscall class '%foo'");
  EXPECT_FALSE(ParseSyscallSet("!%", &set, &error));
  EXPECT_EQ(error, "unknown syscall class '%'");
  // A failed parse leaves the set as it was.
  EXPECT_EQ(Names(set), "read");
}

TEST(ParseSyscallSetTest, RejectsMalformedSets) {
  SyscallSet set;
  std::string error;
  for (std::string_view text : {"", "!", "read,", ",read", "read,,write"}) {
    error.clear();
    EXPECT_FALSE(ParseSyscallSet(text, &set, &error)) << text;
    EXPECT_FALSE(error.empty()) << text;
    EXPECT_EQ(error.find('\n'), std::string::npos) << text;
  }
  // Negation applies to the whole set only, as in strace.
  EXPECT_FALSE(ParseSyscallSet("read,!write", &set, &error));
  EXPECT_EQ(error, "unknown syscall name '!write'");
}

}  // namespace
}  // namespace sandbox
