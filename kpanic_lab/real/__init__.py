"""The same crash on a real kernel: Debian's Linux 6.1 under QEMU, with the real kexec and makedumpfile.

``run_real`` boots the host's ``/boot/vmlinuz-*-amd64`` with an initramfs built from the host's
busybox, kexec and makedumpfile, triggers SysRq-c and, with kdump, brings the real vmcore back;
``find_host`` names any Debian package that is missing.
"""
from kpanic_lab.real.host import HostTools, RealHostError, apt_line, find_host, missing_packages
from kpanic_lab.real.run import RealRun, RealRunError, run_real, split_console

__all__ = ["HostTools", "RealHostError", "apt_line", "find_host", "missing_packages", "RealRun",
           "RealRunError", "run_real", "split_console"]
