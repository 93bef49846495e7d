"""Prototype of issue 22's step-4 ELF normalisations, for measurement only (not a codec yet).

Each normalisation rewrites one table of an ELF x86-64 file so that code moving between releases
no longer changes it; all are bijective given the parts of the file they leave alone (the stub
would run the forward form on the old file, apply the Zucchini patch, and the inverse on the
result). `run-elfnorm-probe.sh` normalises both files of a pair, makes the Zucchini patch between
them and reports its `xz -9e` size against the plain Zucchini patch's.

  hdr  .eh_frame_hdr search table: each (initial_loc, fde) pair as the difference to the previous
  eh   .eh_frame FDEs: pc_begin as (absolute address - previous pc_begin - previous pc_range), the
       LSDA pointer as the difference to the previous FDE's
  cid  .eh_frame FDEs: the CIE pointer (distance back to the CIE, grows with every FDE before it)
       as the CIE's offset in the section plus one
  sym  .symtab st_value: the difference to the previous value in the same section
  add  RELA R_X86_64_RELATIVE r_addend: minus the 8 bytes at r_offset (the linker wrote the addend
       there too: 43,264 of 43,264 in ruff 0.8.0)

Usage: elfnorm_probe.py IN OUT hdr,eh,cid,sym,add
"""
import struct
import sys

M64, M32 = (1 << 64) - 1, 0xFFFFFFFF


def sections(b):
    shoff, = struct.unpack_from("<Q", b, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", b, 0x3A)
    out = []
    for i in range(shnum):
        name, typ, flags, addr, off, size = struct.unpack_from("<IIQQQQ", b, shoff + i * shentsize)
        out.append(dict(name=name, type=typ, flags=flags, addr=addr, off=off, size=size))
    strs = out[shstrndx]["off"]
    for s in out:
        end = b.index(b"\0", strs + s["name"])
        s["n"] = b[strs + s["name"]:end].decode()
    return out


def uleb(b, p):
    r = s = 0
    while True:
        c = b[p]
        p += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, p


def fdes(b, eh):
    """(record offset, pc_begin field, LSDA field or None) of each FDE with pcrel sdata4 pointers."""
    off, end, cies = eh["off"], eh["off"] + eh["size"], {}
    while off + 4 <= end:
        ln, = struct.unpack_from("<I", b, off)
        if ln in (0, M32):
            return
        start = off + 4
        cid, = struct.unpack_from("<I", b, start)
        if cid == 0:
            p = start + 5
            e = b.index(b"\0", p)
            aug = b[p:e].decode()
            p = e + 1
            for _ in range(3):
                _, p = uleb(b, p)
            fenc, lenc = 0, None
            if aug.startswith("z"):
                _, q = uleb(b, p)
                for ch in aug[1:]:
                    if ch == "R":
                        fenc, q = b[q], q + 1
                    elif ch == "L":
                        lenc, q = b[q], q + 1
                    elif ch == "P":
                        q += 5
            cies[off] = (aug, fenc, lenc)
        else:
            aug, fenc, lenc = cies[start - cid]
            if fenc == 0x1B:
                p, lsda = start + 4, None
                if aug.startswith("z"):
                    al, q = uleb(b, p + 8)
                    if lenc == 0x1B and al >= 4:
                        lsda = q
                yield off, p, lsda
        off = start + ln


def normalise(b, opts):
    secs = sections(b)
    by = {s["n"]: s for s in secs}
    eh, hd = by.get(".eh_frame"), by.get(".eh_frame_hdr")
    va = lambda o: eh["addr"] + o - eh["off"]
    if "hdr" in opts and hd:
        o = hd["off"]
        count, = struct.unpack_from("<I", b, o + 8)
        pi = pf = 0
        for i in range(count):
            at = o + 12 + 8 * i
            ini, fde = struct.unpack_from("<II", b, at)
            struct.pack_into("<II", b, at, (ini - pi) & M32, (fde - pf) & M32)
            pi, pf = ini, fde
    if "eh" in opts and eh:
        pa = pr = pl = 0
        for _, pc, lsda in fdes(b, eh):
            v, rng = struct.unpack_from("<iI", b, pc)
            a = (va(pc) + v) & M32
            struct.pack_into("<I", b, pc, (a - pa - pr) & M32)
            pa, pr = a, rng
            if lsda is not None:
                v, = struct.unpack_from("<i", b, lsda)
                a = (va(lsda) + v) & M32
                struct.pack_into("<I", b, lsda, (a - pl) & M32)
                pl = a
    if "cid" in opts and eh:
        for rec, _, _ in list(fdes(b, eh)):
            cid, = struct.unpack_from("<I", b, rec + 4)
            struct.pack_into("<I", b, rec + 4, (rec + 4 - cid - eh["off"] + 1) & M32)
    if "sym" in opts:
        for st in (s for s in secs if s["type"] == 2):
            last = {}
            for o in range(st["off"], st["off"] + st["size"], 24):
                _, info, _, shndx, v = struct.unpack_from("<IBBHQ", b, o)
                if shndx == 0 or shndx >= 0xFF00 or info & 0xF == 4:
                    continue
                struct.pack_into("<Q", b, o + 8, (v - last.get(shndx, 0)) & M64)
                last[shndx] = v
    if "add" in opts:
        alloc = [s for s in secs if s["flags"] & 2 and s["type"] != 8 and s["addr"]]
        for r in (s for s in secs if s["type"] == 4):
            for o in range(r["off"], r["off"] + r["size"], 24):
                off, info, add = struct.unpack_from("<QQQ", b, o)
                s = next((s for s in alloc if s["addr"] <= off < s["addr"] + s["size"]), None)
                if info != 8 or s is None:
                    continue
                slot, = struct.unpack_from("<Q", b, s["off"] + off - s["addr"])
                struct.pack_into("<Q", b, o + 16, (add - slot) & M64)


if __name__ == "__main__":
    data = bytearray(open(sys.argv[1], "rb").read())
    normalise(data, sys.argv[3].split(","))
    open(sys.argv[2], "wb").write(data)
