//! The Media service (ver10): a device's profiles and the RTSP URI of each.

use serde::Serialize;

use crate::soap::{self, TRT};
use crate::xml::escape;
use crate::{Error, Limits};

/// A media profile: a token to ask for its stream, and what its video is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub token: String,
    pub name: String,
    /// `H264`, `H265`, `JPEG`… when the profile has a video encoder.
    pub encoding: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// `GetProfiles`.
pub fn get_profiles() -> String {
    format!(r#"<trt:GetProfiles xmlns:trt="{TRT}"/>"#)
}

/// Parses a `GetProfilesResponse`. A profile needs its `token` attribute.
pub fn parse_profiles(bytes: &[u8], limits: &Limits) -> Result<Vec<Profile>, Error> {
    let answer = soap::expect(bytes, limits, TRT, "GetProfilesResponse")?;
    answer
        .children_named("Profiles")
        .map(|p| {
            let token = p
                .attr("token")
                .filter(|t| !t.is_empty())
                .ok_or(Error::Missing { what: "the profile token", path: "<Profiles token=…>".into() })?;
            let encoder = p.child("VideoEncoderConfiguration");
            let number = |name: &str| -> Result<Option<u32>, Error> {
                encoder
                    .and_then(|e| e.text_at(&["Resolution", name]))
                    .map(|v| v.parse().map_err(|_| Error::BadValue { what: "a resolution", value: v.into() }))
                    .transpose()
            };
            Ok(Profile {
                token: token.to_owned(),
                name: p.text_at(&["Name"]).unwrap_or(token).to_owned(),
                encoding: encoder.and_then(|e| e.text_at(&["Encoding"])).map(str::to_owned),
                width: number("Width")?,
                height: number("Height")?,
            })
        })
        .collect()
}

/// `GetStreamUri` for RTP unicast over RTSP.
pub fn get_stream_uri(profile_token: &str) -> String {
    format!(
        r#"<trt:GetStreamUri xmlns:trt="{TRT}"><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup><trt:ProfileToken>{}</trt:ProfileToken></trt:GetStreamUri>"#,
        escape(profile_token)
    )
}

/// Parses a `GetStreamUriResponse` into its URI.
pub fn parse_stream_uri(bytes: &[u8], limits: &Limits) -> Result<String, Error> {
    let answer = soap::expect(bytes, limits, TRT, "GetStreamUriResponse")?;
    Ok(answer.required(&["MediaUri", "Uri"], "the stream uri")?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shaped on the Media service's schema (media.wsdl, onvif.xsd `tt:Profile`); no device
    // answer is in ../shared/samples.
    const PROFILES: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body><trt:GetProfilesResponse>
      <trt:Profiles token="profile_1" fixed="true"><tt:Name>mainStream</tt:Name>
        <tt:VideoEncoderConfiguration token="vec_1"><tt:Name>ve1</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution></tt:VideoEncoderConfiguration></trt:Profiles>
      <trt:Profiles token="profile_2"><tt:Name>subStream</tt:Name></trt:Profiles>
    </trt:GetProfilesResponse></s:Body></s:Envelope>"#;

    #[test]
    fn profiles() {
        let p = parse_profiles(PROFILES.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].token.as_str(), p[0].name.as_str(), p[0].encoding.as_deref()),
            ("profile_1", "mainStream", Some("H264"))
        );
        assert_eq!((p[0].width, p[0].height), (Some(1920), Some(1080)));
        assert_eq!((p[1].encoding.as_deref(), p[1].width), (None, None));
    }

    #[test]
    fn hostile_profiles() {
        let l = Limits::default();
        let e = parse_profiles(PROFILES.replace(r#" token="profile_2""#, "").as_bytes(), &l).unwrap_err();
        assert_eq!(e.to_string(), "the profile token missing at <Profiles token=…>");
        let e = parse_profiles(PROFILES.replace("1920", "wide").as_bytes(), &l).unwrap_err();
        assert_eq!(e.to_string(), "a resolution: \"wide\" does not parse");
        let e = parse_stream_uri(PROFILES.as_bytes(), &l).unwrap_err();
        assert!(matches!(e, Error::Unexpected { .. }), "{e:?}");
        let doc = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:trt="http://www.onvif.org/ver10/media/wsdl"><s:Body><trt:GetStreamUriResponse><trt:MediaUri/></trt:GetStreamUriResponse></s:Body></s:Envelope>"#;
        let e = parse_stream_uri(doc.as_bytes(), &l).unwrap_err();
        assert_eq!(e.to_string(), "the stream uri missing at <GetStreamUriResponse>/<MediaUri>/<Uri>");
    }
}
