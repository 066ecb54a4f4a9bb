#include "sandbox/common/syscall_table.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <iterator>
#include <string>
#include <string_view>

namespace sandbox {
namespace {

struct HostSyscall {
  const char* name;
  long nr;
};

// Every syscall Debian 12's headers name, to check the hand-written table
// against the system's own numbering.
#define SANDBOX_HOST_SYSCALL(sys) \
  { #sys, SYS_##sys }
constexpr HostSyscall kHostSyscalls[] = {
    SANDBOX_HOST_SYSCALL(read),
    SANDBOX_HOST_SYSCALL(write),
    SANDBOX_HOST_SYSCALL(open),
    SANDBOX_HOST_SYSCALL(close),
    SANDBOX_HOST_SYSCALL(stat),
    SANDBOX_HOST_SYSCALL(fstat),
    SANDBOX_HOST_SYSCALL(lstat),
    SANDBOX_HOST_SYSCALL(poll),
    SANDBOX_HOST_SYSCALL(lseek),
    SANDBOX_HOST_SYSCALL(mmap),
    SANDBOX_HOST_SYSCALL(mprotect),
    SANDBOX_HOST_SYSCALL(munmap),
    SANDBOX_HOST_SYSCALL(brk),
    SANDBOX_HOST_SYSCALL(rt_sigaction),
    SANDBOX_HOST_SYSCALL(rt_sigprocmask),
    SANDBOX_HOST_SYSCALL(rt_sigreturn),
    SANDBOX_HOST_SYSCALL(ioctl),
    SANDBOX_HOST_SYSCALL(pread64),
    SANDBOX_HOST_SYSCALL(pwrite64),
    SANDBOX_HOST_SYSCALL(readv),
    SANDBOX_HOST_SYSCALL(writev),
    SANDBOX_HOST_SYSCALL(access),
    SANDBOX_HOST_SYSCALL(pipe),
    SANDBOX_HOST_SYSCALL(select),
    SANDBOX_HOST_SYSCALL(sched_yield),
    SANDBOX_HOST_SYSCALL(mremap),
    SANDBOX_HOST_SYSCALL(msync),
    SANDBOX_HOST_SYSCALL(mincore),
    SANDBOX_HOST_SYSCALL(madvise),
    SANDBOX_HOST_SYSCALL(shmget),
    SANDBOX_HOST_SYSCALL(shmat),
    SANDBOX_HOST_SYSCALL(shmctl),
    SANDBOX_HOST_SYSCALL(dup),
    SANDBOX_HOST_SYSCALL(dup2),
    SANDBOX_HOST_SYSCALL(pause),
    SANDBOX_HOST_SYSCALL(nanosleep),
    SANDBOX_HOST_SYSCALL(getitimer),
    SANDBOX_HOST_SYSCALL(alarm),
    SANDBOX_HOST_SYSCALL(setitimer),
    SANDBOX_HOST_SYSCALL(getpid),
    SANDBOX_HOST_SYSCALL(sendfile),
    SANDBOX_HOST_SYSCALL(socket),
    SANDBOX_HOST_SYSCALL(connect),
    SANDBOX_HOST_SYSCALL(accept),
    SANDBOX_HOST_SYSCALL(sendto),
    SANDBOX_HOST_SYSCALL(recvfrom),
    SANDBOX_HOST_SYSCALL(sendmsg),
    SANDBOX_HOST_SYSCALL(recvmsg),
    SANDBOX_HOST_SYSCALL(shutdown),
    SANDBOX_HOST_SYSCALL(bind),
    SANDBOX_HOST_SYSCALL(listen),
    SANDBOX_HOST_SYSCALL(getsockname),
    SANDBOX_HOST_SYSCALL(getpeername),
    SANDBOX_HOST_SYSCALL(socketpair),
    SANDBOX_HOST_SYSCALL(setsockopt),
    SANDBOX_HOST_SYSCALL(getsockopt),
    SANDBOX_HOST_SYSCALL(clone),
    SANDBOX_HOST_SYSCALL(fork),
    SANDBOX_HOST_SYSCALL(vfork),
    SANDBOX_HOST_SYSCALL(execve),
    SANDBOX_HOST_SYSCALL(exit),
    SANDBOX_HOST_SYSCALL(wait4),
    SANDBOX_HOST_SYSCALL(kill),
    SANDBOX_HOST_SYSCALL(uname),
    SANDBOX_HOST_SYSCALL(semget),
    SANDBOX_HOST_SYSCALL(semop),
    SANDBOX_HOST_SYSCALL(semctl),
    SANDBOX_HOST_SYSCALL(shmdt),
    SANDBOX_HOST_SYSCALL(msgget),
    SANDBOX_HOST_SYSCALL(msgsnd),
    SANDBOX_HOST_SYSCALL(msgrcv),
    SANDBOX_HOST_SYSCALL(msgctl),
    SANDBOX_HOST_SYSCALL(fcntl),
    SANDBOX_HOST_SYSCALL(flock),
    SANDBOX_HOST_SYSCALL(fsync),
    SANDBOX_HOST_SYSCALL(fdatasync),
    SANDBOX_HOST_SYSCALL(truncate),
    SANDBOX_HOST_SYSCALL(ftruncate),
    SANDBOX_HOST_SYSCALL(getdents),
    SANDBOX_HOST_SYSCALL(getcwd),
    SANDBOX_HOST_SYSCALL(chdir),
    SANDBOX_HOST_SYSCALL(fchdir),
    SANDBOX_HOST_SYSCALL(rename),
    SANDBOX_HOST_SYSCALL(mkdir),
    SANDBOX_HOST_SYSCALL(rmdir),
    SANDBOX_HOST_SYSCALL(creat),
    SANDBOX_HOST_SYSCALL(link),
    SANDBOX_HOST_SYSCALL(unlink),
    SANDBOX_HOST_SYSCALL(symlink),
    SANDBOX_HOST_SYSCALL(readlink),
    SANDBOX_HOST_SYSCALL(chmod),
    SANDBOX_HOST_SYSCALL(fchmod),
    SANDBOX_HOST_SYSCALL(chown),
    SANDBOX_HOST_SYSCALL(fchown),
    SANDBOX_HOST_SYSCALL(lchown),
    SANDBOX_HOST_SYSCALL(umask),
    SANDBOX_HOST_SYSCALL(gettimeofday),
    SANDBOX_HOST_SYSCALL(getrlimit),
    SANDBOX_HOST_SYSCALL(getrusage),
    SANDBOX_HOST_SYSCALL(sysinfo),
    SANDBOX_HOST_SYSCALL(times),
    SANDBOX_HOST_SYSCALL(ptrace),
    SANDBOX_HOST_SYSCALL(getuid),
    SANDBOX_HOST_SYSCALL(syslog),
    SANDBOX_HOST_SYSCALL(getgid),
    SANDBOX_HOST_SYSCALL(setuid),
    SANDBOX_HOST_SYSCALL(setgid),
    SANDBOX_HOST_SYSCALL(geteuid),
    SANDBOX_HOST_SYSCALL(getegid),
    SANDBOX_HOST_SYSCALL(setpgid),
    SANDBOX_HOST_SYSCALL(getppid),
    SANDBOX_HOST_SYSCALL(getpgrp),
    SANDBOX_HOST_SYSCALL(setsid),
    SANDBOX_HOST_SYSCALL(setreuid),
    SANDBOX_HOST_SYSCALL(setregid),
    SANDBOX_HOST_SYSCALL(getgroups),
    SANDBOX_HOST_SYSCALL(setgroups),
    SANDBOX_HOST_SYSCALL(setresuid),
    SANDBOX_HOST_SYSCALL(getresuid),
    SANDBOX_HOST_SYSCALL(setresgid),
    SANDBOX_HOST_SYSCALL(getresgid),
    SANDBOX_HOST_SYSCALL(getpgid),
    SANDBOX_HOST_SYSCALL(setfsuid),
    SANDBOX_HOST_SYSCALL(setfsgid),
    SANDBOX_HOST_SYSCALL(getsid),
    SANDBOX_HOST_SYSCALL(capget),
    SANDBOX_HOST_SYSCALL(capset),
    SANDBOX_HOST_SYSCALL(rt_sigpending),
    SANDBOX_HOST_SYSCALL(rt_sigtimedwait),
    SANDBOX_HOST_SYSCALL(rt_sigqueueinfo),
    SANDBOX_HOST_SYSCALL(rt_sigsuspend),
    SANDBOX_HOST_SYSCALL(sigaltstack),
    SANDBOX_HOST_SYSCALL(utime),
    SANDBOX_HOST_SYSCALL(mknod),
    SANDBOX_HOST_SYSCALL(uselib),
    SANDBOX_HOST_SYSCALL(personality),
    SANDBOX_HOST_SYSCALL(ustat),
    SANDBOX_HOST_SYSCALL(statfs),
    SANDBOX_HOST_SYSCALL(fstatfs),
    SANDBOX_HOST_SYSCALL(sysfs),
    SANDBOX_HOST_SYSCALL(getpriority),
    SANDBOX_HOST_SYSCALL(setpriority),
    SANDBOX_HOST_SYSCALL(sched_setparam),
    SANDBOX_HOST_SYSCALL(sched_getparam),
    SANDBOX_HOST_SYSCALL(sched_setscheduler),
    SANDBOX_HOST_SYSCALL(sched_getscheduler),
    SANDBOX_HOST_SYSCALL(sched_get_priority_max),
    SANDBOX_HOST_SYSCALL(sched_get_priority_min),
    SANDBOX_HOST_SYSCALL(sched_rr_get_interval),
    SANDBOX_HOST_SYSCALL(mlock),
    SANDBOX_HOST_SYSCALL(munlock),
    SANDBOX_HOST_SYSCALL(mlockall),
    SANDBOX_HOST_SYSCALL(munlockall),
    SANDBOX_HOST_SYSCALL(vhangup),
    SANDBOX_HOST_SYSCALL(modify_ldt),
    SANDBOX_HOST_SYSCALL(pivot_root),
    SANDBOX_HOST_SYSCALL(_sysctl),
    SANDBOX_HOST_SYSCALL(prctl),
    SANDBOX_HOST_SYSCALL(arch_prctl),
    SANDBOX_HOST_SYSCALL(adjtimex),
    SANDBOX_HOST_SYSCALL(setrlimit),
    SANDBOX_HOST_SYSCALL(chroot),
    SANDBOX_HOST_SYSCALL(sync),
    SANDBOX_HOST_SYSCALL(acct),
    SANDBOX_HOST_SYSCALL(settimeofday),
    SANDBOX_HOST_SYSCALL(mount),
    SANDBOX_HOST_SYSCALL(umount2),
    SANDBOX_HOST_SYSCALL(swapon),
    SANDBOX_HOST_SYSCALL(swapoff),
    SANDBOX_HOST_SYSCALL(reboot),
    SANDBOX_HOST_SYSCALL(sethostname),
    SANDBOX_HOST_SYSCALL(setdomainname),
    SANDBOX_HOST_SYSCALL(iopl),
    SANDBOX_HOST_SYSCALL(ioperm),
    SANDBOX_HOST_SYSCALL(create_module),
    SANDBOX_HOST_SYSCALL(init_module),
    SANDBOX_HOST_SYSCALL(delete_module),
    SANDBOX_HOST_SYSCALL(get_kernel_syms),
    SANDBOX_HOST_SYSCALL(query_module),
    SANDBOX_HOST_SYSCALL(quotactl),
    SANDBOX_HOST_SYSCALL(nfsservctl),
    SANDBOX_HOST_SYSCALL(getpmsg),
    SANDBOX_HOST_SYSCALL(putpmsg),
    SANDBOX_HOST_SYSCALL(afs_syscall),
    SANDBOX_HOST_SYSCALL(tuxcall),
    SANDBOX_HOST_SYSCALL(security),
    SANDBOX_HOST_SYSCALL(gettid),
    SANDBOX_HOST_SYSCALL(readahead),
    SANDBOX_HOST_SYSCALL(setxattr),
    SANDBOX_HOST_SYSCALL(lsetxattr),
    SANDBOX_HOST_SYSCALL(fsetxattr),
    SANDBOX_HOST_SYSCALL(getxattr),
    SANDBOX_HOST_SYSCALL(lgetxattr),
    SANDBOX_HOST_SYSCALL(fgetxattr),
    SANDBOX_HOST_SYSCALL(listxattr),
    SANDBOX_HOST_SYSCALL(llistxattr),
    SANDBOX_HOST_SYSCALL(flistxattr),
    SANDBOX_HOST_SYSCALL(removexattr),
    SANDBOX_HOST_SYSCALL(lremovexattr),
    SANDBOX_HOST_SYSCALL(fremovexattr),
    SANDBOX_HOST_SYSCALL(tkill),
    SANDBOX_HOST_SYSCALL(time),
    SANDBOX_HOST_SYSCALL(futex),
    SANDBOX_HOST_SYSCALL(sched_setaffinity),
    SANDBOX_HOST_SYSCALL(sched_getaffinity),
    SANDBOX_HOST_SYSCALL(set_thread_area),
    SANDBOX_HOST_SYSCALL(io_setup),
    SANDBOX_HOST_SYSCALL(io_destroy),
    SANDBOX_HOST_SYSCALL(io_getevents),
    SANDBOX_HOST_SYSCALL(io_submit),
    SANDBOX_HOST_SYSCALL(io_cancel),
    SANDBOX_HOST_SYSCALL(get_thread_area),
    SANDBOX_HOST_SYSCALL(lookup_dcookie),
    SANDBOX_HOST_SYSCALL(epoll_create),
    SANDBOX_HOST_SYSCALL(epoll_ctl_old),
    SANDBOX_HOST_SYSCALL(epoll_wait_old),
    SANDBOX_HOST_SYSCALL(remap_file_pages),
    SANDBOX_HOST_SYSCALL(getdents64),
    SANDBOX_HOST_SYSCALL(set_tid_address),
    SANDBOX_HOST_SYSCALL(restart_syscall),
    SANDBOX_HOST_SYSCALL(semtimedop),
    SANDBOX_HOST_SYSCALL(fadvise64),
    SANDBOX_HOST_SYSCALL(timer_create),
    SANDBOX_HOST_SYSCALL(timer_settime),
    SANDBOX_HOST_SYSCALL(timer_gettime),
    SANDBOX_HOST_SYSCALL(timer_getoverrun),
    SANDBOX_HOST_SYSCALL(timer_delete),
    SANDBOX_HOST_SYSCALL(clock_settime),
    SANDBOX_HOST_SYSCALL(clock_gettime),
    SANDBOX_HOST_SYSCALL(clock_getres),
    SANDBOX_HOST_SYSCALL(clock_nanosleep),
    SANDBOX_HOST_SYSCALL(exit_group),
    SANDBOX_HOST_SYSCALL(epoll_wait),
    SANDBOX_HOST_SYSCALL(epoll_ctl),
    SANDBOX_HOST_SYSCALL(tgkill),
    SANDBOX_HOST_SYSCALL(utimes),
    SANDBOX_HOST_SYSCALL(vserver),
    SANDBOX_HOST_SYSCALL(mbind),
    SANDBOX_HOST_SYSCALL(set_mempolicy),
    SANDBOX_HOST_SYSCALL(get_mempolicy),
    SANDBOX_HOST_SYSCALL(mq_open),
    SANDBOX_HOST_SYSCALL(mq_unlink),
    SANDBOX_HOST_SYSCALL(mq_timedsend),
    SANDBOX_HOST_SYSCALL(mq_timedreceive),
    SANDBOX_HOST_SYSCALL(mq_notify),
    SANDBOX_HOST_SYSCALL(mq_getsetattr),
    SANDBOX_HOST_SYSCALL(kexec_load),
    SANDBOX_HOST_SYSCALL(waitid),
    SANDBOX_HOST_SYSCALL(add_key),
    SANDBOX_HOST_SYSCALL(request_key),
    SANDBOX_HOST_SYSCALL(keyctl),
    SANDBOX_HOST_SYSCALL(ioprio_set),
    SANDBOX_HOST_SYSCALL(ioprio_get),
    SANDBOX_HOST_SYSCALL(inotify_init),
    SANDBOX_HOST_SYSCALL(inotify_add_watch),
    SANDBOX_HOST_SYSCALL(inotify_rm_watch),
    SANDBOX_HOST_SYSCALL(migrate_pages),
    SANDBOX_HOST_SYSCALL(openat),
    SANDBOX_HOST_SYSCALL(mkdirat),
    SANDBOX_HOST_SYSCALL(mknodat),
    SANDBOX_HOST_SYSCALL(fchownat),
    SANDBOX_HOST_SYSCALL(futimesat),
    SANDBOX_HOST_SYSCALL(newfstatat),
    SANDBOX_HOST_SYSCALL(unlinkat),
    SANDBOX_HOST_SYSCALL(renameat),
    SANDBOX_HOST_SYSCALL(linkat),
    SANDBOX_HOST_SYSCALL(symlinkat),
    SANDBOX_HOST_SYSCALL(readlinkat),
    SANDBOX_HOST_SYSCALL(fchmodat),
    SANDBOX_HOST_SYSCALL(faccessat),
    SANDBOX_HOST_SYSCALL(pselect6),
    SANDBOX_HOST_SYSCALL(ppoll),
    SANDBOX_HOST_SYSCALL(unshare),
    SANDBOX_HOST_SYSCALL(set_robust_list),
    SANDBOX_HOST_SYSCALL(get_robust_list),
    SANDBOX_HOST_SYSCALL(splice),
    SANDBOX_HOST_SYSCALL(tee),
    SANDBOX_HOST_SYSCALL(sync_file_range),
    SANDBOX_HOST_SYSCALL(vmsplice),
    SANDBOX_HOST_SYSCALL(move_pages),
    SANDBOX_HOST_SYSCALL(utimensat),
    SANDBOX_HOST_SYSCALL(epoll_pwait),
    SANDBOX_HOST_SYSCALL(signalfd),
    SANDBOX_HOST_SYSCALL(timerfd_create),
    SANDBOX_HOST_SYSCALL(eventfd),
    SANDBOX_HOST_SYSCALL(fallocate),
    SANDBOX_HOST_SYSCALL(timerfd_settime),
    SANDBOX_HOST_SYSCALL(timerfd_gettime),
    SANDBOX_HOST_SYSCALL(accept4),
    SANDBOX_HOST_SYSCALL(signalfd4),
    SANDBOX_HOST_SYSCALL(eventfd2),
    SANDBOX_HOST_SYSCALL(epoll_create1),
    SANDBOX_HOST_SYSCALL(dup3),
    SANDBOX_HOST_SYSCALL(pipe2),
    SANDBOX_HOST_SYSCALL(inotify_init1),
    SANDBOX_HOST_SYSCALL(preadv),
    SANDBOX_HOST_SYSCALL(pwritev),
    SANDBOX_HOST_SYSCALL(rt_tgsigqueueinfo),
    SANDBOX_HOST_SYSCALL(perf_event_open),
    SANDBOX_HOST_SYSCALL(recvmmsg),
    SANDBOX_HOST_SYSCALL(fanotify_init),
    SANDBOX_HOST_SYSCALL(fanotify_mark),
    SANDBOX_HOST_SYSCALL(prlimit64),
    SANDBOX_HOST_SYSCALL(name_to_handle_at),
    SANDBOX_HOST_SYSCALL(open_by_handle_at),
    SANDBOX_HOST_SYSCALL(clock_adjtime),
    SANDBOX_HOST_SYSCALL(syncfs),
    SANDBOX_HOST_SYSCALL(sendmmsg),
    SANDBOX_HOST_SYSCALL(setns),
    SANDBOX_HOST_SYSCALL(getcpu),
    SANDBOX_HOST_SYSCALL(process_vm_readv),
    SANDBOX_HOST_SYSCALL(process_vm_writev),
    SANDBOX_HOST_SYSCALL(kcmp),
    SANDBOX_HOST_SYSCALL(finit_module),
    SANDBOX_HOST_SYSCALL(sched_setattr),
    SANDBOX_HOST_SYSCALL(sched_getattr),
    SANDBOX_HOST_SYSCALL(renameat2),
    SANDBOX_HOST_SYSCALL(seccomp),
    SANDBOX_HOST_SYSCALL(getrandom),
    SANDBOX_HOST_SYSCALL(memfd_create),
    SANDBOX_HOST_SYSCALL(kexec_file_load),
    SANDBOX_HOST_SYSCALL(bpf),
    SANDBOX_HOST_SYSCALL(execveat),
    SANDBOX_HOST_SYSCALL(userfaultfd),
    SANDBOX_HOST_SYSCALL(membarrier),
    SANDBOX_HOST_SYSCALL(mlock2),
    SANDBOX_HOST_SYSCALL(copy_file_range),
    SANDBOX_HOST_SYSCALL(preadv2),
    SANDBOX_HOST_SYSCALL(pwritev2),
    SANDBOX_HOST_SYSCALL(pkey_mprotect),
    SANDBOX_HOST_SYSCALL(pkey_alloc),
    SANDBOX_HOST_SYSCALL(pkey_free),
    SANDBOX_HOST_SYSCALL(statx),
    SANDBOX_HOST_SYSCALL(io_pgetevents),
    SANDBOX_HOST_SYSCALL(rseq),
    SANDBOX_HOST_SYSCALL(pidfd_send_signal),
    SANDBOX_HOST_SYSCALL(io_uring_setup),
    SANDBOX_HOST_SYSCALL(io_uring_enter),
    SANDBOX_HOST_SYSCALL(io_uring_register),
    SANDBOX_HOST_SYSCALL(open_tree),
    SANDBOX_HOST_SYSCALL(move_mount),
    SANDBOX_HOST_SYSCALL(fsopen),
    SANDBOX_HOST_SYSCALL(fsconfig),
    SANDBOX_HOST_SYSCALL(fsmount),
    SANDBOX_HOST_SYSCALL(fspick),
    SANDBOX_HOST_SYSCALL(pidfd_open),
    SANDBOX_HOST_SYSCALL(clone3),
    SANDBOX_HOST_SYSCALL(close_range),
    SANDBOX_HOST_SYSCALL(openat2),
    SANDBOX_HOST_SYSCALL(pidfd_getfd),
    SANDBOX_HOST_SYSCALL(faccessat2),
    SANDBOX_HOST_SYSCALL(process_madvise),
    SANDBOX_HOST_SYSCALL(epoll_pwait2),
    SANDBOX_HOST_SYSCALL(mount_setattr),
    SANDBOX_HOST_SYSCALL(quotactl_fd),
    SANDBOX_HOST_SYSCALL(landlock_create_ruleset),
    SANDBOX_HOST_SYSCALL(landlock_add_rule),
    SANDBOX_HOST_SYSCALL(landlock_restrict_self),
    SANDBOX_HOST_SYSCALL(memfd_secret),
    SANDBOX_HOST_SYSCALL(process_mrelease),
    SANDBOX_HOST_SYSCALL(futex_waitv),
    SANDBOX_HOST_SYSCALL(set_mempolicy_home_node),
};
#undef SANDBOX_HOST_SYSCALL

TEST(SyscallTableTest, AgreesWithHostHeaders) {
  for (const HostSyscall& host : kHostSyscalls) {
    EXPECT_EQ(SyscallNumberByName(host.name), host.nr) << host.name;
    const SyscallInfo* info = LookupSyscall(host.nr);
    ASSERT_NE(info, nullptr) << host.name;
    EXPECT_STREQ(info->name, host.name);
  }
  EXPECT_EQ(std::size(kHostSyscalls), 362u);
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
  for (int nr :
       {SYS_clone, SYS_clone3, SYS_fork, SYS_vfork, SYS_execve, SYS_execveat,
        SYS_exit, SYS_exit_group, SYS_wait4, SYS_waitid}) {
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
