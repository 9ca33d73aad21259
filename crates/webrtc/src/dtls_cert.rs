//! The DTLS certificate every `webrtcbin` of Tessera uses: ECDSA P-256, as browsers use, and
//! the `a=fingerprint` that matches it.
//!
//! GStreamer 1.22 generates an RSA-2048 certificate by default. Browsers accept it, but stacks
//! that offer only ECDSA cipher suites (aiortc) end the handshake with "no shared cipher". 1.22
//! has no `webrtcbin` property for the certificate: each transport's `dtlssrtpdec` takes a
//! `pem` (certificate and private key in one string). The transports are created inside
//! `create-offer` (or `set-remote-description` on the answering side), right before the
//! fingerprint is read back from them, so [`use_ecdsa_certificate`] sets `pem` from
//! `deep-element-added`; `notify::transport` would come after the fingerprint.
//!
//! 1.22 then writes a wrong fingerprint: `_generate_fingerprint_from_certificate`
//! (`webrtcsdp.c`) hashes every base64 line of that string, the private key's included. So
//! every description we create goes through [`with_certificate_fingerprint`] before it is set
//! locally or sent. `webrtcbin` itself never reads a fingerprint (its `dtlsdec` accepts any
//! peer certificate), so only the remote peer sees the rewritten one, and checks it.

use std::sync::OnceLock;

use gst::glib;
use gst::prelude::*;

/// A certificate with its private key, generated once per process.
#[derive(Debug)]
pub struct DtlsCertificate {
    /// The certificate then the private key (PKCS#8), PEM: what `dtlssrtpdec`'s `pem` takes.
    pub pem: String,
    /// `sha-256 AB:CD:…`, the SHA-256 of the certificate's DER: the `a=fingerprint` value.
    pub fingerprint: String,
}

/// Errors making the certificate (the key generator or the encoder failed).
#[derive(Debug, thiserror::Error)]
#[error("cannot generate the DTLS certificate: {0}")]
pub struct CertificateError(String);

impl DtlsCertificate {
    /// Generates a self-signed ECDSA P-256 certificate (rcgen's default algorithm).
    pub fn generate() -> Result<Self, CertificateError> {
        let generated = rcgen::generate_simple_self_signed(vec!["tessera".to_owned()])
            .map_err(|e| CertificateError(e.to_string()))?;
        let pem = format!("{}{}", generated.cert.pem(), generated.signing_key.serialize_pem());
        let fingerprint = format!("sha-256 {}", sha256_hex(generated.cert.der()));
        Ok(Self { pem, fingerprint })
    }

    /// The process's certificate, generated on first use.
    pub fn shared() -> Result<&'static Self, CertificateError> {
        static SHARED: OnceLock<Result<DtlsCertificate, String>> = OnceLock::new();
        // One string for the whole process: 1.22 keeps one DTLS agent (an SSL context) per
        // distinct `pem`, so every peer shares it.
        let shared = SHARED.get_or_init(|| Self::generate().map_err(|e| e.0));
        shared.as_ref().map_err(|e| CertificateError(e.clone()))
    }
}

/// Colon-separated uppercase hex of `bytes`' SHA-256, as `a=fingerprint` writes it.
fn sha256_hex(bytes: &[u8]) -> String {
    let mut sum = glib::Checksum::new(glib::ChecksumType::Sha256).expect("GLib has SHA-256");
    sum.update(bytes);
    let digest = sum.digest();
    digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Makes every DTLS transport `webrtc` creates from now on use the process's ECDSA
/// certificate. Call before the first `create-offer` or `set-remote-description`, and pass
/// every description it creates through [`with_certificate_fingerprint`].
pub fn use_ecdsa_certificate(webrtc: &gst::Element) -> Result<(), CertificateError> {
    let certificate = DtlsCertificate::shared()?;
    let bin = webrtc.downcast_ref::<gst::Bin>().expect("webrtcbin is a bin");
    bin.connect_deep_element_added(move |_, _, element| {
        if element.factory().is_some_and(|f| f.name() == "dtlssrtpdec") {
            element.set_property("pem", &certificate.pem);
        }
    });
    Ok(())
}

/// `description` with every `a=fingerprint` (session and media level) replaced by the
/// certificate's true one; see the module docs for why 1.22's is wrong.
pub fn with_certificate_fingerprint(
    description: &gst_webrtc::WebRTCSessionDescription,
) -> Result<gst_webrtc::WebRTCSessionDescription, CertificateError> {
    let certificate = DtlsCertificate::shared()?;
    let mut sdp = description.sdp().to_owned();
    replace_fingerprints(&mut sdp, &certificate.fingerprint);
    Ok(gst_webrtc::WebRTCSessionDescription::new(description.type_(), sdp))
}

/// Replaces the value of every `a=fingerprint` in `sdp` with `fingerprint` (pure).
pub fn replace_fingerprints(sdp: &mut gst_sdp::SDPMessageRef, fingerprint: &str) {
    let at: Vec<u32> = fingerprint_indices(sdp.attributes());
    for i in at {
        let _ = sdp.replace_attribute(i, gst_sdp::SDPAttribute::new("fingerprint", Some(fingerprint)));
    }
    for media in sdp.medias_mut() {
        for i in fingerprint_indices(media.attributes()) {
            let _ = media.replace_attribute(i, gst_sdp::SDPAttribute::new("fingerprint", Some(fingerprint)));
        }
    }
}

fn fingerprint_indices<'a>(attributes: impl Iterator<Item = &'a gst_sdp::SDPAttribute>) -> Vec<u32> {
    attributes.enumerate().filter(|(_, a)| a.key() == "fingerprint").map(|(i, _)| i as u32).collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 00:11\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:video0\r\na=fingerprint:sha-256 AA:BB\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:audio1\r\na=rtcp-mux\r\na=fingerprint:sha-256 CC:DD\r\n";

    #[test]
    fn every_fingerprint_is_replaced_and_nothing_else() {
        gst::init().unwrap();
        let mut sdp = gst_sdp::SDPMessage::parse_buffer(OFFER.as_bytes()).unwrap();
        replace_fingerprints(&mut sdp, "sha-256 01:02");
        let text = sdp.as_text().unwrap();
        assert_eq!(text.matches("a=fingerprint:sha-256 01:02\r\n").count(), 3, "{text}");
        assert!(!text.contains("AA:BB") && !text.contains("CC:DD") && !text.contains("00:11"));
        assert!(text.contains("a=mid:audio1\r\na=rtcp-mux\r\n"), "other attributes stay in place: {text}");
    }

    #[test]
    fn the_certificate_is_ecdsa_p256_and_its_fingerprint_is_of_the_der() {
        let c = DtlsCertificate::generate().unwrap();
        assert!(c.pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(c.pem.contains("-----BEGIN PRIVATE KEY-----"));
        let (cert_pem, _) = c.pem.split_once("-----END CERTIFICATE-----").unwrap();
        let base64: String = cert_pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = glib::base64_decode(&base64);
        assert_eq!(c.fingerprint, format!("sha-256 {}", sha256_hex(&der)));
        // SubjectPublicKeyInfo's algorithm: id-ecPublicKey (1.2.840.10045.2.1) on P-256
        // (1.2.840.10045.3.1.7).
        let has = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
        assert!(has(&[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]), "not an EC key");
        assert!(has(&[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]), "not P-256");
        assert_eq!(c.fingerprint.len(), "sha-256 ".len() + 32 * 3 - 1);
    }

    /// A real offer: its DTLS transport holds our certificate, and once rewritten the offer
    /// carries our fingerprint on every m-line, where 1.22 alone puts a wrong one.
    #[test]
    fn offers_carry_the_ecdsa_certificate_and_its_fingerprint() {
        gst::init().unwrap();
        let certificate = DtlsCertificate::shared().unwrap();
        let pipeline = gst::Pipeline::new();
        let webrtc = crate::new_webrtcbin("webrtcbin", 50, &crate::IceSettings::default()).unwrap();
        use_ecdsa_certificate(&webrtc).unwrap();
        pipeline.add(&webrtc).unwrap();
        for caps in [crate::codecs::vp8_caps(), crate::codecs::opus_caps()] {
            let sink = webrtc.request_pad_simple("sink_%u").unwrap();
            let transceiver: gst_webrtc::WebRTCRTPTransceiver = sink.property("transceiver");
            transceiver.set_codec_preferences(Some(&caps));
        }
        pipeline.set_state(gst::State::Playing).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let promise = gst::Promise::with_change_func(move |reply| {
            let offer = reply.ok().flatten().and_then(|s| s.get::<gst_webrtc::WebRTCSessionDescription>("offer").ok());
            let _ = tx.send(offer);
        });
        webrtc.emit_by_name::<()>("create-offer", &[&None::<gst::Structure>, &promise]);
        let offer = rx.recv_timeout(Duration::from_secs(5)).unwrap().expect("an offer");
        let transceiver =
            webrtc.emit_by_name::<Option<gst_webrtc::WebRTCRTPTransceiver>>("get-transceiver", &[&0i32]).unwrap();
        let transport = transceiver.sender().unwrap().transport().unwrap();
        assert_eq!(transport.property::<String>("certificate"), certificate.pem, "the transport uses our certificate");
        let before = offer.sdp().medias().next().unwrap().attribute_val("fingerprint").unwrap().to_owned();
        assert_ne!(before, certificate.fingerprint, "1.22 hashes the key too; if it no longer does, drop the rewrite");
        let fixed = with_certificate_fingerprint(&offer).unwrap();
        for media in fixed.sdp().medias() {
            assert_eq!(media.attribute_val("fingerprint"), Some(certificate.fingerprint.as_str()));
        }
        crate::teardown::stop(pipeline.upcast_ref()).unwrap();
    }
}
