/* auxv EXECPATH: checks the auxiliary vector and the initial stack layout.
 *
 * Prints one line per check, "<NAME> ok" or "<NAME> BAD (details)", never a
 * raw address (ASLR would make runs differ).  Values that are deterministic
 * on a given machine (page size, clock ticks, platform, hwcaps...) are
 * printed.  argv[1] must be the path the program was executed by, which is
 * compared with AT_EXECFN.  Exit status: number of BAD checks (capped). */
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#ifndef AT_RANDOM
#define AT_RANDOM 25
#endif
#ifndef AT_HWCAP2
#define AT_HWCAP2 26
#endif
#ifndef AT_EXECFN
#define AT_EXECFN 31
#endif
#ifndef AT_SYSINFO_EHDR
#define AT_SYSINFO_EHDR 33
#endif
#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

extern const ElfW(Ehdr) __ehdr_start;
extern char _start[];
extern char **environ;

static int bad;

static void check(const char *name, int ok, const char *details)
{
    if (ok) {
        printf("%s ok\n", name);
    } else {
        printf("%s BAD (%s)\n", name, details);
        bad++;
    }
}

static int is_elf(unsigned long addr)
{
    return addr != 0 && memcmp((const void *)addr, ELFMAG, SELFMAG) == 0;
}

static void check_id(const char *name, unsigned long type, unsigned long want)
{
    unsigned long got = getauxval(type);
    char buf[96];
    snprintf(buf, sizeof buf, "auxv %lu, syscall %lu", got, want);
    check(name, got == want, buf);
}

int main(int argc, char **argv)
{
    char buf[512];
    const ElfW(Phdr) *phdr =
        (const ElfW(Phdr) *)((const char *)&__ehdr_start + __ehdr_start.e_phoff);
    int has_interp = 0, i;
    unsigned long v;
    long pagesz = sysconf(_SC_PAGESIZE);

    for (i = 0; i < __ehdr_start.e_phnum; i++)
        if (phdr[i].p_type == PT_INTERP)
            has_interp = 1;
    printf("has PT_INTERP: %s\n", has_interp ? "yes" : "no");

    v = getauxval(AT_PAGESZ);
    printf("AT_PAGESZ %lu\n", v);
    snprintf(buf, sizeof buf, "auxv %lu, sysconf %ld", v, pagesz);
    check("AT_PAGESZ", (long)v == pagesz && v != 0, buf);

    v = getauxval(AT_PHDR);
    snprintf(buf, sizeof buf, "differs from __ehdr_start+e_phoff by %td bytes",
             (const char *)v - (const char *)phdr);
    check("AT_PHDR", v == (unsigned long)phdr, buf);

    v = getauxval(AT_PHNUM);
    snprintf(buf, sizeof buf, "auxv %lu, e_phnum %u", v, __ehdr_start.e_phnum);
    check("AT_PHNUM", v == __ehdr_start.e_phnum, buf);

    v = getauxval(AT_PHENT);
    snprintf(buf, sizeof buf, "auxv %lu, e_phentsize %u", v,
             __ehdr_start.e_phentsize);
    check("AT_PHENT", v == __ehdr_start.e_phentsize && v == sizeof(ElfW(Phdr)),
          buf);

    v = getauxval(AT_ENTRY);
    snprintf(buf, sizeof buf, "differs from _start by %td bytes",
             (const char *)v - _start);
    check("AT_ENTRY", v == (unsigned long)_start, buf);

    v = getauxval(AT_BASE);
    if (has_interp) {
        check("AT_BASE", is_elf(v),
              v ? "does not point at an ELF header" : "zero with PT_INTERP");
    } else {
        check("AT_BASE", v == 0, "nonzero without PT_INTERP");
    }

    v = getauxval(AT_SYSINFO_EHDR);
    check("AT_SYSINFO_EHDR", is_elf(v),
          v ? "does not point at an ELF header" : "missing");

    v = getauxval(AT_RANDOM);
    if (v == 0) {
        check("AT_RANDOM", 0, "missing");
    } else {
        static const unsigned char zero[16];
        check("AT_RANDOM", memcmp((const void *)v, zero, 16) != 0,
              "16 zero bytes");
    }

    v = getauxval(AT_EXECFN);
    if (v == 0) {
        check("AT_EXECFN", 0, "missing");
    } else if (argc < 2) {
        check("AT_EXECFN", 0, "no expected path given in argv[1]");
    } else {
        snprintf(buf, sizeof buf, "auxv \"%s\", expected \"%s\"",
                 (const char *)v, argv[1]);
        check("AT_EXECFN", strcmp((const char *)v, argv[1]) == 0, buf);
    }

    v = getauxval(AT_PLATFORM);
    printf("AT_PLATFORM %s\n", v ? (const char *)v : "(missing)");
    printf("AT_CLKTCK %lu\n", getauxval(AT_CLKTCK));
    printf("AT_HWCAP 0x%lx\n", getauxval(AT_HWCAP));
    printf("AT_HWCAP2 0x%lx\n", getauxval(AT_HWCAP2));
    printf("AT_FLAGS %lu\n", getauxval(AT_FLAGS));
    printf("AT_SECURE %lu\n", getauxval(AT_SECURE));
    check("AT_SECURE", getauxval(AT_SECURE) == 0, "nonzero");
    printf("AT_MINSIGSTKSZ %s\n",
           getauxval(AT_MINSIGSTKSZ) ? "present" : "absent");

    check_id("AT_UID", AT_UID, getuid());
    check_id("AT_EUID", AT_EUID, geteuid());
    check_id("AT_GID", AT_GID, getgid());
    check_id("AT_EGID", AT_EGID, getegid());

    snprintf(buf, sizeof buf, "argv %% 16 == %lu", (unsigned long)((uintptr_t)argv & 15));
    check("argv-alignment", ((uintptr_t)argv & 15) == 8, buf);

    snprintf(buf, sizeof buf, "environ - (argv + argc + 1) == %td",
             environ - (argv + argc + 1));
    check("environ-position", environ == argv + argc + 1, buf);

    printf("bad checks: %d\n", bad);
    return bad > 100 ? 100 : bad;
}
