//! The smallest zip archives the local stack needs: writing a config layer (one file, stored, with
//! a fixed timestamp so the same document makes the same bytes and the same S3 key), and reading
//! one file back out of a deployed layer, stored or deflated (what `aws cloudformation package`
//! writes). No zip64, encryption or multi-disk archives: layers that need them are not jobgen's.

/// Why a zip could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a readable zip archive: {0}")]
pub struct ZipError(String);

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
/// 1980-01-01 00:00:00 in MS-DOS date format: the earliest a zip can say, and always the same.
const DOS_DATE: u16 = (1 << 5) | 1;

fn u16le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// An archive holding `name` (a relative path with `/` separators) with `contents`, stored.
pub fn single_file(name: &str, contents: &[u8]) -> Vec<u8> {
    let crc = crc32fast::hash(contents);
    let size = u32::try_from(contents.len()).unwrap_or(u32::MAX);
    let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(contents.len() + 2 * name.len() + 100);
    // Local file header, then the data.
    u32le(&mut out, LOCAL);
    for v in [20, 0, 0, 0, DOS_DATE] {
        u16le(&mut out, v);
    }
    for v in [crc, size, size] {
        u32le(&mut out, v);
    }
    u16le(&mut out, name_len);
    u16le(&mut out, 0);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(contents);
    // Central directory: one entry, made on Unix (3) so the mode bits are read as rw-r--r--.
    let central_at = u32::try_from(out.len()).unwrap_or(u32::MAX);
    u32le(&mut out, CENTRAL);
    for v in [(3 << 8) | 20, 20, 0, 0, 0, DOS_DATE] {
        u16le(&mut out, v);
    }
    for v in [crc, size, size] {
        u32le(&mut out, v);
    }
    for v in [name_len, 0, 0, 0, 0] {
        u16le(&mut out, v);
    }
    u32le(&mut out, 0o100_644 << 16);
    u32le(&mut out, 0);
    out.extend_from_slice(name.as_bytes());
    let central_len = u32::try_from(out.len()).unwrap_or(u32::MAX) - central_at;
    u32le(&mut out, END);
    for v in [0, 0, 1, 1] {
        u16le(&mut out, v);
    }
    u32le(&mut out, central_len);
    u32le(&mut out, central_at);
    u16le(&mut out, 0);
    out
}

fn read_u16(bytes: &[u8], at: usize) -> Result<u16, ZipError> {
    bytes
        .get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| ZipError(format!("truncated at byte {at}")))
}

fn read_u32(bytes: &[u8], at: usize) -> Result<u32, ZipError> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| ZipError(format!("truncated at byte {at}")))
}

/// The contents of the file called `name` in `archive`; `Ok(None)` when there is no such file.
pub fn read_file(archive: &[u8], name: &str) -> Result<Option<Vec<u8>>, ZipError> {
    // The end record is the last 22 bytes plus a comment of up to 64 KiB.
    let floor = archive.len().saturating_sub(22 + usize::from(u16::MAX));
    let end = (floor..=archive.len().saturating_sub(22))
        .rev()
        .find(|&at| read_u32(archive, at) == Ok(END))
        .ok_or_else(|| ZipError("no end-of-central-directory record".into()))?;
    let entries = read_u16(archive, end + 10)?;
    let mut at = read_u32(archive, end + 16)? as usize;
    for _ in 0..entries {
        if read_u32(archive, at)? != CENTRAL {
            return Err(ZipError(format!("no central directory entry at byte {at}")));
        }
        let method = read_u16(archive, at + 10)?;
        let crc = read_u32(archive, at + 16)?;
        let compressed = read_u32(archive, at + 20)? as usize;
        let name_len = usize::from(read_u16(archive, at + 28)?);
        let extra_len = usize::from(read_u16(archive, at + 30)?);
        let comment_len = usize::from(read_u16(archive, at + 32)?);
        let local = read_u32(archive, at + 42)? as usize;
        let entry = archive.get(at + 46..at + 46 + name_len).ok_or_else(|| ZipError("truncated name".into()))?;
        at += 46 + name_len + extra_len + comment_len;
        if entry != name.as_bytes() {
            continue;
        }
        if read_u32(archive, local)? != LOCAL {
            return Err(ZipError(format!("no local header at byte {local}")));
        }
        let data_at =
            local + 30 + usize::from(read_u16(archive, local + 26)?) + usize::from(read_u16(archive, local + 28)?);
        let data =
            archive.get(data_at..data_at + compressed).ok_or_else(|| ZipError(format!("{name}: truncated data")))?;
        let contents = match method {
            0 => data.to_vec(),
            8 => miniz_oxide::inflate::decompress_to_vec(data)
                .map_err(|e| ZipError(format!("{name}: cannot inflate: {e:?}")))?,
            other => return Err(ZipError(format!("{name}: compression method {other} is not supported"))),
        };
        if crc32fast::hash(&contents) != crc {
            return Err(ZipError(format!("{name}: CRC-32 mismatch")));
        }
        return Ok(Some(contents));
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn writes_deterministic_archives_it_reads_back() {
        let a = single_file("jobgen/config.json", b"{\"version\":1}\n");
        assert_eq!(a, single_file("jobgen/config.json", b"{\"version\":1}\n"));
        assert_eq!(read_file(&a, "jobgen/config.json").unwrap().as_deref(), Some(&b"{\"version\":1}\n"[..]));
        assert_eq!(read_file(&a, "other").unwrap(), None);
        assert!(read_file(b"not a zip", "x").is_err());
        let mut corrupt = a.clone();
        corrupt[31 + "jobgen/config.json".len()] ^= 1;
        assert!(read_file(&corrupt, "jobgen/config.json").is_err(), "a flipped data byte fails the CRC");
    }

    #[test]
    fn reads_deflated_entries() {
        let text = "abcabcabc".repeat(50);
        let deflated = miniz_oxide::deflate::compress_to_vec(text.as_bytes(), 6);
        // Rewrite the stored archive into a deflated one: method 8 and the compressed size in both headers.
        let stored = single_file("f", text.as_bytes());
        let name = 1;
        let mut z = Vec::new();
        z.extend_from_slice(&stored[..8]);
        u16le(&mut z, 8);
        z.extend_from_slice(&stored[10..18]);
        u32le(&mut z, deflated.len() as u32);
        z.extend_from_slice(&stored[22..30 + name]);
        z.extend_from_slice(&deflated);
        let central_at = z.len() as u32;
        let c = 30 + name + text.len();
        z.extend_from_slice(&stored[c..c + 10]);
        u16le(&mut z, 8);
        z.extend_from_slice(&stored[c + 12..c + 20]);
        u32le(&mut z, deflated.len() as u32);
        z.extend_from_slice(&stored[c + 24..c + 46 + name]);
        let central_len = z.len() as u32 - central_at;
        u32le(&mut z, END);
        for v in [0, 0, 1, 1] {
            u16le(&mut z, v);
        }
        u32le(&mut z, central_len);
        u32le(&mut z, central_at);
        u16le(&mut z, 0);
        assert_eq!(read_file(&z, "f").unwrap().as_deref(), Some(text.as_bytes()));
    }
}
