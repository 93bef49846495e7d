/* Test-only: Debian's Wine 8.0 lacks bcryptprimitives.dll, whose ProcessPrng current Rust std
 * imports; without it the stub .exe does not start under Wine. This stand-in forwards to
 * RtlGenRandom (advapi32's SystemFunction036). Real Windows 10/11 ships the DLL; this is built
 * into the scratch Wine prefix of stub/test-targets.sh only, never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
