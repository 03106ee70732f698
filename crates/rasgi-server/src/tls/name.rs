//! The subject of an X.509 certificate as RFC 4514 text, read from its DER by hand: the one
//! field of a client certificate the `tls` extension names (`client_cert_name`).
//!
//! The rules kept (RFC 4514 §2): the relative distinguished names are written last first,
//! separated by `,`; the values of one are joined by `+`; a type is its short name where RFC 4514
//! §3 gives one (and `emailAddress`, as OpenSSL writes it), its dotted OID otherwise; a value of
//! a string type is its text with `"` `+` `,` `;` `<` `>` `\` escaped, and a leading space or
//! `#` and a trailing space; NUL is `\00`; any other value, and the value of a type written as
//! an OID, is `#` and the hex of its DER.

use std::fmt::Write;

/// Why a certificate's subject could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the certificate's subject could not be read: {0}")]
pub(crate) struct NameError(&'static str);

/// DER tags used here (X.690 §8).
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const VERSION: u8 = 0xa0;
const UTF8_STRING: u8 = 0x0c;
const PRINTABLE_STRING: u8 = 0x13;
const TELETEX_STRING: u8 = 0x14;
const IA5_STRING: u8 = 0x16;
const UNIVERSAL_STRING: u8 = 0x1c;
const BMP_STRING: u8 = 0x1e;

/// The subject of the DER certificate `cert`, as RFC 4514 text.
pub(crate) fn subject(cert: &[u8]) -> Result<String, NameError> {
    let (certificate, _) = expect(cert, SEQUENCE, "not a certificate")?;
    let (mut tbs, _) = expect(certificate, SEQUENCE, "no tbsCertificate")?;
    // tbsCertificate (RFC 5280 §4.1): [0] version (optional), serialNumber, signature,
    // issuer, validity, subject.
    if tbs.first() == Some(&VERSION) {
        tbs = element(tbs)?.2;
    }
    let (_, tbs) = expect(tbs, INTEGER, "no serial number")?;
    let (_, tbs) = expect(tbs, SEQUENCE, "no signature algorithm")?;
    let (_, tbs) = expect(tbs, SEQUENCE, "no issuer")?;
    let (_, tbs) = expect(tbs, SEQUENCE, "no validity")?;
    let (name, _) = expect(tbs, SEQUENCE, "no subject")?;
    rfc4514(name)
}

/// A `Name` (RFC 5280 §4.1.2.4, the contents of its SEQUENCE) as RFC 4514 text.
fn rfc4514(mut name: &[u8]) -> Result<String, NameError> {
    let mut rdns = Vec::new();
    while !name.is_empty() {
        let (rdn, rest) = expect(name, SET, "a name part is not a SET")?;
        rdns.push(rdn);
        name = rest;
    }
    let mut out = String::new();
    for (i, mut rdn) in rdns.into_iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut first = true;
        while !rdn.is_empty() {
            let (pair, rest) = expect(rdn, SEQUENCE, "an attribute is not a SEQUENCE")?;
            rdn = rest;
            if !first {
                out.push('+');
            }
            first = false;
            let (oid, value) = expect(pair, OID, "an attribute has no type")?;
            attribute(&mut out, oid, value)?;
        }
    }
    Ok(out)
}

/// One `type=value` pair.
fn attribute(out: &mut String, oid: &[u8], value: &[u8]) -> Result<(), NameError> {
    let (tag, contents, rest) = element(value)?;
    if !rest.is_empty() {
        return Err(NameError("an attribute has more than one value"));
    }
    let short = short_name(oid);
    match short {
        Some(short) => out.push_str(short),
        None => dotted(out, oid)?,
    }
    out.push('=');
    match (short, text(tag, contents)) {
        (Some(_), Some(text)) => escape(out, &text),
        _ => {
            out.push('#');
            for byte in value {
                let _ = write!(out, "{byte:02X}");
            }
        }
    }
    Ok(())
}

/// The short names of RFC 4514 §3, and OpenSSL's `emailAddress`.
fn short_name(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x09] => "STREET",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress",
        _ => return None,
    })
}

/// An OID's dotted-decimal form (X.690 §8.19).
fn dotted(out: &mut String, oid: &[u8]) -> Result<(), NameError> {
    let mut arcs = Vec::new();
    let mut arc: u64 = 0;
    for (i, &byte) in oid.iter().enumerate() {
        if arc > u64::MAX >> 7 {
            return Err(NameError("an attribute type's number is too large"));
        }
        arc = arc << 7 | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            arcs.push(arc);
            arc = 0;
        } else if i + 1 == oid.len() {
            return Err(NameError("an attribute type is cut short"));
        }
    }
    let Some(&first) = arcs.first() else {
        return Err(NameError("an attribute type is empty"));
    };
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let _ = write!(out, "{a}.{b}");
    for arc in &arcs[1..] {
        let _ = write!(out, ".{arc}");
    }
    Ok(())
}

/// A string value's text, or `None` for a value that is not one of the string types.
fn text(tag: u8, contents: &[u8]) -> Option<String> {
    match tag {
        UTF8_STRING | PRINTABLE_STRING | IA5_STRING => {
            std::str::from_utf8(contents).ok().map(str::to_owned)
        }
        // T.61 in theory; Latin-1 in practice (as OpenSSL reads it).
        TELETEX_STRING => Some(contents.iter().map(|&b| char::from(b)).collect()),
        BMP_STRING if contents.len() % 2 == 0 => char::decode_utf16(
            contents
                .chunks_exact(2)
                .map(|unit| u16::from_be_bytes([unit[0], unit[1]])),
        )
        .collect::<Result<String, _>>()
        .ok(),
        UNIVERSAL_STRING if contents.len() % 4 == 0 => contents
            .chunks_exact(4)
            .map(|unit| char::from_u32(u32::from_be_bytes([unit[0], unit[1], unit[2], unit[3]])))
            .collect(),
        _ => None,
    }
}

/// A value's text, escaped as RFC 4514 §2.4 says.
fn escape(out: &mut String, text: &str) {
    let last = text.chars().count().saturating_sub(1);
    for (i, c) in text.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' ' | '#' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
}

/// The next element of `der` if its tag is `tag`: its contents, and what follows it.
fn expect<'a>(
    der: &'a [u8],
    tag: u8,
    otherwise: &'static str,
) -> Result<(&'a [u8], &'a [u8]), NameError> {
    match element(der)? {
        (found, contents, rest) if found == tag => Ok((contents, rest)),
        _ => Err(NameError(otherwise)),
    }
}

/// The next element of `der`: its tag, its contents, and what follows it (X.690 §8.1, the
/// definite lengths DER allows).
fn element(der: &[u8]) -> Result<(u8, &[u8], &[u8]), NameError> {
    let [tag, first, rest @ ..] = der else {
        return Err(NameError("an element is cut short"));
    };
    if tag & 0x1f == 0x1f {
        return Err(NameError("a multi-byte tag"));
    }
    let (len, rest) = match *first {
        short @ 0..=0x7f => (usize::from(short), rest),
        0x81..=0x84 => {
            let count = usize::from(first & 0x7f);
            if rest.len() < count {
                return Err(NameError("a length is cut short"));
            }
            let len = rest[..count]
                .iter()
                .fold(0usize, |len, &b| len << 8 | usize::from(b));
            (len, &rest[count..])
        }
        _ => return Err(NameError("a length DER does not allow")),
    };
    if rest.len() < len {
        return Err(NameError("an element is longer than what holds it"));
    }
    Ok((*tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The DER of one element.
    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match contents.len() {
            len @ 0..=0x7f => out.push(len as u8),
            len @ 0x80..=0xff => out.extend([0x81, len as u8]),
            len => out.extend([0x82, (len >> 8) as u8, len as u8]),
        }
        out.extend_from_slice(contents);
        out
    }

    /// One attribute: its type's OID, its value's tag, its value.
    type Attribute<'a> = (&'a [u8], u8, &'a [u8]);

    /// A Name of RDNs, each a list of attributes.
    fn name(rdns: &[&[Attribute<'_>]]) -> Vec<u8> {
        let mut contents = Vec::new();
        for rdn in rdns {
            let mut set = Vec::new();
            for (oid, tag, value) in *rdn {
                let mut pair = tlv(OID, oid);
                pair.extend(tlv(*tag, value));
                set.extend(tlv(SEQUENCE, &pair));
            }
            contents.extend(tlv(SET, &set));
        }
        contents
    }

    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const O: &[u8] = &[0x55, 0x04, 0x0a];
    const OU: &[u8] = &[0x55, 0x04, 0x0b];
    const C: &[u8] = &[0x55, 0x04, 0x06];

    #[test]
    fn rfc4514_2_1_the_rdns_are_written_last_first() {
        let der = name(&[
            &[(C, PRINTABLE_STRING, b"GB")],
            &[(O, UTF8_STRING, b"Sue, Grabbit and Runn")],
            &[(CN, UTF8_STRING, b"L. Eagle")],
        ]);
        assert_eq!(
            rfc4514(&der).unwrap(),
            "CN=L. Eagle,O=Sue\\, Grabbit and Runn,C=GB"
        );
    }

    #[test]
    fn rfc4514_2_2_the_values_of_one_rdn_are_joined_by_plus() {
        let der = name(&[&[(OU, UTF8_STRING, b"Sales"), (CN, UTF8_STRING, b"J. Smith")]]);
        assert_eq!(rfc4514(&der).unwrap(), "OU=Sales+CN=J. Smith");
    }

    #[test]
    fn rfc4514_2_3_a_type_without_a_short_name_is_its_oid_and_its_value_hex() {
        // 1.3.6.1.4.1.1466.0 = #04024869 is RFC 4514 §4's own example.
        let oid = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x8b, 0x3a, 0x00];
        let der = name(&[&[(&oid, 0x04, b"Hi")]]);
        assert_eq!(rfc4514(&der).unwrap(), "1.3.6.1.4.1.1466.0=#04024869");
    }

    #[test]
    fn rfc4514_2_4_special_characters_are_escaped() {
        let der = name(&[
            &[(CN, UTF8_STRING, b" #lead\"q+<>;\\ trail ")],
            &[(O, UTF8_STRING, b"nul\0here")],
        ]);
        assert_eq!(
            rfc4514(&der).unwrap(),
            "O=nul\\00here,CN=\\ #lead\\\"q\\+\\<\\>\\;\\\\ trail\\ "
        );
    }

    #[test]
    fn rfc4514_2_4_a_value_of_a_non_string_type_is_hex() {
        let der = name(&[&[(CN, INTEGER, &[0x01, 0x02])]]);
        assert_eq!(rfc4514(&der).unwrap(), "CN=#02020102");
    }

    #[test]
    fn the_string_types_are_read_as_text() {
        let bmp: Vec<u8> = "Zoë".encode_utf16().flat_map(u16::to_be_bytes).collect();
        let universal: Vec<u8> = "Zoë"
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        for (tag, value) in [
            (UTF8_STRING, "Zoë".as_bytes().to_vec()),
            (BMP_STRING, bmp),
            (UNIVERSAL_STRING, universal),
            (TELETEX_STRING, vec![b'Z', b'o', 0xeb]),
        ] {
            let der = name(&[&[(CN, tag, &value)]]);
            assert_eq!(rfc4514(&der).unwrap(), "CN=Zoë", "tag {tag:#x}");
        }
    }

    #[test]
    fn cut_or_malformed_der_is_an_error_not_a_panic() {
        let good = name(&[&[(CN, UTF8_STRING, b"alice")]]);
        for cut in 0..good.len() {
            // Every prefix is either a shorter valid name or an error.
            let _ = rfc4514(&good[..cut]);
        }
        assert!(rfc4514(&[SET, 0x85, 0, 0, 0, 0, 1]).is_err());
        assert!(rfc4514(&[SET, 0x05, 0x30]).is_err());
        assert!(subject(b"").is_err());
        assert!(subject(&tlv(SEQUENCE, &tlv(SEQUENCE, &[]))).is_err());
    }

    #[test]
    fn long_lengths_are_read() {
        let value = vec![b'a'; 300];
        let der = name(&[&[(CN, UTF8_STRING, &value)]]);
        assert_eq!(rfc4514(&der).unwrap(), format!("CN={}", "a".repeat(300)));
    }
}
