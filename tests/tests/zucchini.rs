//! The stub's Rust apply of Zucchini patches (`iupack_stub::format::codecs::zucchini`) against
//! the reference C++ library: on real program pairs, and on every mutated patch, both must make
//! the same bytes (or both refuse). The references an image holds are part of the format, so a
//! reader that finds one more or one fewer gives different bytes, and these tests see it.

use iupack_stub::format::codecs::zucchini as ours;
use iupack_tests::{c_program, c_program_pe};
use std::path::Path;

/// What the reference makes of `old` with `patch`: its bytes when it read the patch (right or
/// wrong: a CRC-32 mismatch still leaves what it rebuilt), `None` when it refused.
fn reference(old: &[u8], patch: &[u8]) -> Option<Vec<u8>> {
    let h = zucchini::read_header(patch).ok()?;
    let mut new = vec![0u8; h.new_size as usize];
    match zucchini::apply_into(old, patch, &mut new) {
        Ok(()) | Err(zucchini::Error::WrongNewFile) => Some(new),
        Err(_) => None,
    }
}

fn ours_rebuild(old: &[u8], patch: &[u8]) -> Option<Vec<u8>> {
    ours::rebuild(old, patch).ok().map(|(_, new)| new)
}

/// Checks one pair: the patch has executable elements, both applies give `new`, and every
/// mutation of the patch gives the same outcome from both.
fn check_pair(old: &[u8], new: &[u8], mutations: usize) {
    let patch = zucchini::generate(old, new).expect("zucchini generates");
    let types = ours::element_types(&patch).expect("our reader reads the reference's patch");
    let exe = [*b"Ex64", *b"Px64"].map(u32::from_le_bytes);
    assert!(
        types.iter().any(|t| exe.contains(t)),
        "expected an ELF or PE x86-64 element, got {types:x?}"
    );
    assert_eq!(
        zucchini::apply(old, &patch).expect("the reference applies"),
        new,
        "the reference applies"
    );
    let mine = ours::apply(old, &patch, new.len() as u64).expect("the stub applies");
    assert!(mine == new, "the stub's bytes differ from the new file");
    fuzz_seed(old, &patch);

    // Mutations: a byte changed at a pseudo-random place (xorshift, fixed seed: reproducible),
    // weighted towards the header and element tables where a lie does the most.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (mut refused, mut differ) = (0, 0);
    for i in 0..mutations {
        let mut p = patch.clone();
        let at = if i % 4 == 0 {
            (next() % 128.min(p.len() as u64)) as usize
        } else {
            (next() % p.len() as u64) as usize
        };
        p[at] ^= 1 << (next() % 8);
        let theirs = reference(old, &p);
        let mine = ours_rebuild(old, &p);
        assert!(
            theirs == mine,
            "mutation {i} (byte {at}): the reference {} and the stub {}",
            theirs
                .as_ref()
                .map_or("refused".into(), |v| format!("made {} bytes", v.len())),
            mine.as_ref()
                .map_or("refused".into(), |v| format!("made {} bytes", v.len())),
        );
        match mine {
            None => refused += 1,
            Some(v) if v != new => differ += 1,
            _ => {}
        }
    }
    eprintln!(
        "{mutations} mutations: {refused} refused by both, {differ} made the same wrong bytes"
    );
}

/// With `IUPACK_FUZZ_SEEDS=DIR`, writes the pair as a seed of the `zucchini` fuzz target (its
/// input layout: split, size byte, old file, patch), for `bash fuzz/run.sh`.
fn fuzz_seed(old: &[u8], patch: &[u8]) {
    let Some(dir) = std::env::var_os("IUPACK_FUZZ_SEEDS") else {
        return;
    };
    let Ok(split) = u16::try_from(old.len()) else {
        return;
    };
    let mut seed = split.to_le_bytes().to_vec();
    seed.push(0);
    seed.extend_from_slice(old);
    seed.extend_from_slice(patch);
    let name = format!("{:08x}", iupack_stub::format::zipread::crc32(&seed));
    std::fs::create_dir_all(&dir).expect("seed folder");
    std::fs::write(Path::new(&dir).join(name), seed).expect("seed written");
}

/// A function and a pointer to it, put in the middle of a program: what follows moves.
const INSERTED: &str = "__attribute__((noinline)) int inserted@(int x) { return x ^ @; }\n\
                        int (*keep@)(int) = inserted@;\n";

/// Two versions of a 60-function C program built by `build` (`c_program` or `c_program_pe`)
/// in `dir`, named `old{ext}` and `new{ext}`; the new one has `extra` in it.
fn program_pair(
    build: fn(&Path, &str, &str, usize) -> Vec<u8>,
    dir: &Path,
    ext: &str,
    extra: &str,
) -> (Vec<u8>, Vec<u8>) {
    let old = build(dir, &format!("old{ext}"), "", 60);
    let new = build(dir, &format!("new{ext}"), extra, 60);
    assert_ne!(old, new);
    (old, new)
}

#[test]
fn small_programs_apply_byte_identical_to_the_reference() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let (old, new) = program_pair(c_program, dir.path(), "", INSERTED);
    check_pair(&old, &new, 600);
    // And backwards, and a raw (NoOp) patch.
    check_pair(&new, &old, 200);
    // The builder's payload (Zucchini patch in .xz) is the same bytes every time, and applies.
    let payload = ours::encode(&old, &new)
        .expect("encode")
        .expect("a payload");
    assert_eq!(
        ours::encode(&old, &new).expect("encode"),
        Some(payload.clone())
    );
    let back = ours::apply_payload(&old, &payload, new.len() as u64).expect("the stub applies");
    assert!(back == new, "the payload does not rebuild the new file");
    let raw = zucchini::generate_raw(&old, &new).expect("raw patch");
    assert_eq!(
        ours::apply(&old, &raw, new.len() as u64).expect("the stub applies"),
        new
    );
}

/// Both files with every normalisation of `zucchini-norm-xz` (`normalise`).
fn normalised(old: &[u8], new: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut o, mut n) = (old.to_vec(), new.to_vec());
    ours::normalise(&mut o, ours::NORM_ALL);
    ours::normalise(&mut n, ours::NORM_ALL);
    (o, n)
}

/// Issue 22 step 4: the Zucchini patch between normalised ELF programs is read as the reference
/// reads it too (the normalised files are still programs, their references found the same),
/// and the `zucchini-norm-xz` payload rebuilds the new file byte for byte, the same every time.
#[test]
fn normalised_programs_apply_byte_identical_to_the_reference() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let (old, new) = program_pair(c_program, dir.path(), "", INSERTED);
    let (o, n) = normalised(&old, &new);
    assert!(o != old && n != new, "the normalisations changed nothing");
    check_pair(&o, &n, 400);
    let payload = ours::encode_norm(&old, &new)
        .expect("encode")
        .expect("a payload");
    assert!(payload.starts_with(ours::NORM_MAGIC));
    assert_eq!(
        ours::encode_norm(&old, &new).expect("encode"),
        Some(payload.clone())
    );
    let back = ours::apply_norm_payload(&mut old.clone(), &payload, new.len() as u64)
        .expect("the stub applies");
    assert!(back == new, "the payload does not rebuild the new file");
    // A set of normalisations this stub does not know, or none, is refused.
    for set in [0u8, 0x40, 0x7F] {
        let mut p = payload.clone();
        p[ours::NORM_MAGIC.len()] = set;
        let e =
            ours::apply_norm_payload(&mut old.clone(), &p, new.len() as u64).expect_err("refused");
        assert!(e.message.contains("does not know"), "{}", e.message);
    }
    // Not an ELF program: no payload (the builder keeps the plain codecs).
    let text = b"not a program at all ".repeat(2000);
    let mut other = text.clone();
    other[100] = b'X';
    assert_eq!(ours::encode_norm(&text, &other).expect("encode"), None);
}

#[test]
fn small_windows_programs_apply_byte_identical_to_the_reference() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let (old, new) = program_pair(c_program_pe, dir.path(), ".exe", INSERTED);
    check_pair(&old, &new, 600);
    check_pair(&new, &old, 200);
    // Normalised (`.pdata` as differences), as `zucchini-norm-xz` diffs them, and its payload.
    let (o, n) = normalised(&old, &new);
    assert!(o != old && n != new, "the normalisation changed nothing");
    check_pair(&o, &n, 200);
    let payload = ours::encode_norm(&old, &new)
        .expect("encode")
        .expect("a payload");
    let back = ours::apply_norm_payload(&mut old.clone(), &payload, new.len() as u64)
        .expect("the stub applies");
    assert!(back == new, "the payload does not rebuild the new file");
}

/// The offset of the reference deltas of `patch`'s first executable element, and their length.
fn ref_deltas(patch: &[u8]) -> (usize, usize) {
    let u32_at = |at: usize| u32::from_le_bytes(patch[at..at + 4].try_into().expect("4 bytes"));
    let mut at = 28;
    for _ in 0..u32_at(24) {
        let exe = &patch[at + 16..at + 20];
        at += 22;
        // Equivalences (3 buffers), extra data, raw deltas (2), then the reference deltas.
        for _ in 0..6 {
            at += 4 + u32_at(at) as usize;
        }
        let len = u32_at(at) as usize;
        if exe == b"Ex64" || exe == b"Px64" {
            return (at + 4, len);
        }
        at += 4 + len;
        for _ in 0..u32_at(at) {
            at += 1;
            at += 4 + u32_at(at) as usize;
        }
        at += 4;
    }
    panic!("no executable element");
}

/// A reference delta that points past its pool's targets (the first one made the most negative
/// number LEB128 holds): refused by the stub, as by the reference, for ELF and PE alike.
#[test]
fn a_reference_delta_past_its_targets_is_refused() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let extra = "int spare@ = @;\n";
    for (old, new) in [
        program_pair(c_program, dir.path(), "", extra),
        program_pair(c_program_pe, dir.path(), ".exe", extra),
    ] {
        let mut patch = zucchini::generate(&old, &new).expect("patch");
        let (at, len) = ref_deltas(&patch);
        assert!(len >= 5, "a program with references");
        patch[at..at + 5].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        assert_eq!(reference(&old, &patch), None, "the reference refuses");
        let e = ours::apply(&old, &patch, new.len() as u64).expect_err("refused");
        assert!(
            e.message.contains("reference delta out of range"),
            "{}",
            e.message
        );
    }
}

#[test]
fn a_patch_for_another_size_or_old_file_is_refused_before_it_is_applied() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let (old, new) = program_pair(c_program, dir.path(), "", "int spare = 7;\n");
    let patch = zucchini::generate(&old, &new).expect("patch");
    let e = ours::apply(&old, &patch, new.len() as u64 + 1).expect_err("refused");
    assert!(e.message.contains("signed"), "{}", e.message);
    let mut other = old.clone();
    other[100] ^= 1;
    let e = ours::apply(&other, &patch, new.len() as u64).expect_err("refused");
    assert!(e.message.contains("another old file"), "{}", e.message);
    let e = ours::apply(&old, &patch[..patch.len() - 1], new.len() as u64).expect_err("refused");
    assert!(e.message.contains("not valid"), "{}", e.message);
}

/// Public engine pairs of `../shared/corpus` (P01 and P03 by default; fetched by its fetch.sh or
/// tests/corpus/fetch-ruff.sh, which .ci/run runs before this): each patch applied by the stub byte for byte, and mutated patches alike;
/// each also with both files normalised, as `zucchini-norm-xz` diffs them.
#[test]
#[ignore = "needs the corpus (bash ../shared/corpus/fetch.sh); .ci/run runs it"]
fn corpus_pairs_apply_byte_identical_to_the_reference() {
    let root = std::env::var("IUPACK_CORPUS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(&std::env::var("HOME").expect("HOME")).join(".cache/iupack-corpus/x")
        });
    let pairs: Vec<(&str, &str)> = std::env::var("IUPACK_ZUCCHINI_PAIRS")
        .ok()
        .map(|s| Box::leak(s.into_boxed_str()) as &str)
        .unwrap_or(
            "ruff-linux-0.8.0/ruff:ruff-linux-0.8.1/ruff,ruff-win-0.8.0/ruff.exe:ruff-win-0.8.1/ruff.exe",
        )
        .split(',')
        .map(|p| p.split_once(':').expect("old:new"))
        .collect();
    let mutations: usize = std::env::var("IUPACK_ZUCCHINI_MUTATIONS")
        .map(|s| s.parse().expect("a count"))
        .unwrap_or(40);
    for (a, b) in pairs {
        let old = std::fs::read(root.join(a)).unwrap_or_else(|e| panic!("{a}: {e}"));
        let new = std::fs::read(root.join(b)).unwrap_or_else(|e| panic!("{b}: {e}"));
        eprintln!("{a} -> {b}");
        check_pair(&old, &new, mutations);
        eprintln!("{a} -> {b}, normalised (zucchini-norm-xz)");
        let (o, n) = normalised(&old, &new);
        check_pair(&o, &n, mutations);
    }
}
