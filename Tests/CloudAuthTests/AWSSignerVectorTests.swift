import CloudAuth
import Foundation
import Testing

/// SigV4 against AWS's published vectors: the SigV4 test suite (`get-vanilla`,
/// `get-vanilla-query-order-key-case`, the signing-key derivation example) and the three worked
/// examples of the S3 developer guide ("Signature calculations for the Authorization header").
@Suite struct AWSSignerVectorTests {
    static let suite = AWSCredentials(
        accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let s3Guide = AWSCredentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")

    @Test func theSigningKeyDerivationExample() {
        let signer = AWSSigner(credentials: Self.suite, region: "us-east-1", service: "iam")
        let key = signer.signingKey(dateStamp: "20150830").withUnsafeBytes { AWSSigner.hex($0) }
        #expect(key == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
    }

    @Test func getVanillaAtEveryStage() {
        let signer = AWSSigner(credentials: Self.suite, region: "us-east-1", service: "service")
        let request = AWSSigner.Request(
            method: "GET", path: "/",
            headers: [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")],
            payloadHash: AWSSigner.emptyPayloadHash)
        let (canonical, signed) = signer.canonicalRequest(request)
        #expect(
            canonical
                == "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
                + AWSSigner.emptyPayloadHash)
        #expect(signed == "host;x-amz-date")
        #expect(
            signer.stringToSign(canonicalRequest: canonical, amzDate: "20150830T123600Z")
                == "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                + "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63")
        #expect(
            signer.authorization(request, amzDate: "20150830T123600Z")
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=host;x-amz-date, "
                + "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test func queryParametersAreSortedIntoCanonicalOrder() {
        let signer = AWSSigner(credentials: Self.suite, region: "us-east-1", service: "service")
        let request = AWSSigner.Request(
            method: "GET", path: "/", query: [("Param2", "value2"), ("Param1", "value1")],
            headers: [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")],
            payloadHash: AWSSigner.emptyPayloadHash)
        #expect(signer.canonicalRequest(request).text.contains("\nParam1=value1&Param2=value2\n"))
        #expect(
            signer.authorization(request, amzDate: "20150830T123600Z").hasSuffix(
                "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"))
    }

    @Test func theS3GuideGetObjectExample() {
        let signer = AWSSigner(credentials: Self.s3Guide, region: "us-east-1", service: "s3")
        let request = AWSSigner.Request(
            method: "GET", path: "/test.txt",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
                ("x-amz-content-sha256", AWSSigner.emptyPayloadHash), ("x-amz-date", "20130524T000000Z"),
            ], payloadHash: AWSSigner.emptyPayloadHash)
        let (canonical, _) = signer.canonicalRequest(request)
        #expect(
            signer.stringToSign(canonicalRequest: canonical, amzDate: "20130524T000000Z").hasSuffix(
                "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"))
        #expect(
            signer.authorization(request, amzDate: "20130524T000000Z").hasSuffix(
                "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
            ))
    }

    @Test func theS3GuidePutObjectExampleEncodesThePath() {
        let body = Data("Welcome to Amazon S3.".utf8)
        let payload = AWSSigner.sha256Hex(body)
        #expect(payload == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let signer = AWSSigner(credentials: Self.s3Guide, region: "us-east-1", service: "s3")
        let request = AWSSigner.Request(
            method: "PUT", path: "/test$file.text",
            headers: [
                ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("Host", "examplebucket.s3.amazonaws.com"),
                ("x-amz-content-sha256", payload), ("x-amz-date", "20130524T000000Z"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ], payloadHash: payload)
        #expect(signer.canonicalRequest(request).text.hasPrefix("PUT\n/test%24file.text\n"))
        #expect(
            signer.authorization(request, amzDate: "20130524T000000Z").hasSuffix(
                "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"))
    }

    @Test func theS3GuideListObjectsExample() {
        let signer = AWSSigner(credentials: Self.s3Guide, region: "us-east-1", service: "s3")
        let request = AWSSigner.Request(
            method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")],
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("x-amz-content-sha256", AWSSigner.emptyPayloadHash),
                ("x-amz-date", "20130524T000000Z"),
            ], payloadHash: AWSSigner.emptyPayloadHash)
        #expect(signer.canonicalRequest(request).text.hasPrefix("GET\n/\nmax-keys=2&prefix=J\n"))
        #expect(
            signer.authorization(request, amzDate: "20130524T000000Z").hasSuffix(
                "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))
    }

    @Test func encodingHeadersAndDates() {
        #expect(AWSSigner.encode("/a b/c+d.txt", keepSlash: true) == "/a%20b/c%2Bd.txt")
        #expect(AWSSigner.encode("a/b", keepSlash: false) == "a%2Fb")
        #expect(AWSSigner.encode("/\u{e9}~", keepSlash: true) == "/%C3%A9~")
        let (text, signed) = AWSSigner.canonicalHeaders([
            ("My-Header1", "  a   b  c  "), ("Host", "h"), ("my-header1", "x"),
        ])
        #expect(text == "host:h\nmy-header1:a b c,x\n" && signed == "host;my-header1")
        #expect(AWSSigner.amzDate(Date(timeIntervalSince1970: 1_440_938_160)) == "20150830T123600Z")
        // Non-S3 services encode the path twice.
        let iam = AWSSigner(credentials: Self.suite, region: "us-east-1", service: "service")
        #expect(iam.canonicalURI("/a b") == "/a%2520b")
        let temporary = AWSSigner(
            credentials: AWSCredentials(accessKeyID: "A", secretAccessKey: "S", sessionToken: "T"), region: "r",
            service: "s3")
        let headers = temporary.signedHeaders(
            AWSSigner.Request(method: "GET", path: "/", headers: [("host", "h")], payloadHash: "UNSIGNED-PAYLOAD"),
            at: Date(timeIntervalSince1970: 0))
        let authorization = headers.first { $0.0 == "Authorization" }?.1 ?? ""
        #expect(authorization.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"))
    }
}
