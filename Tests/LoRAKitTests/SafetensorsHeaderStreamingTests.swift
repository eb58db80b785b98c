import Foundation
import Testing
@testable import LoRAKit

/// The one-pass header reader against the JSON-tree reader it replaced: same tensors, same metadata,
/// and the same error (same case, same payload) for every input.
@Suite("Safetensors header: one-pass reader equals the tree reader")
struct SafetensorsHeaderStreamingTests {
    struct Outcome: Equatable {
        var tensors: [TensorInfo] = []
        var metadata: [String: String]?
        var error: SafetensorsError?
    }

    /// The tree reader: parse the whole header into JSON values, then judge each member in file order.
    static func treeRead(_ header: [UInt8]) -> Outcome {
        header.withUnsafeBytes { bytes in
            do throws(SafetensorsError) {
                guard case .object(let members) = try HeaderJSONParser.parse(bytes) else { throw .headerNotAnObject }
                var out = Outcome()
                for m in members {
                    if m.key == "__metadata__" {
                        out.metadata = try SafetensorsHeaderParser.metadata(m.value)
                    } else {
                        out.tensors.append(try SafetensorsHeaderParser.entry(name: m.key, value: m.value))
                    }
                }
                return out
            } catch {
                return Outcome(error: error)
            }
        }
    }

    static func streamRead(_ header: [UInt8]) -> Outcome {
        header.withUnsafeBytes { bytes in
            do throws(SafetensorsError) {
                let e = try HeaderJSONParser.readEntries(bytes)
                #expect(e.positions.count == e.tensors.count)
                for (i, t) in e.tensors.enumerated() { #expect(e.positions[t.name] == i) }
                return Outcome(tensors: e.tensors, metadata: e.metadata)
            } catch {
                return Outcome(error: error)
            }
        }
    }

    static func check(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let header = Array(text.utf8)
        #expect(streamRead(header) == treeRead(header), "\(text)", sourceLocation: sourceLocation)
    }

    static let a = #""a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]}"#
    static let b = #""b":{"dtype":"F32","shape":[],"data_offsets":[12,16]}"#

    @Test("usual, spaced, reordered and escaped entries read the same")
    func accepted() {
        Self.check("{\(Self.a),\(Self.b)}")
        Self.check(#"{"__metadata__":{"format":"pt"},"# + Self.a + "}")
        Self.check(" { \"a\" : { \"shape\" : [ 2 , 3 ] , \"data_offsets\" : [ 0 , 12 ] , \"dtype\" : \"F16\" } } ")
        Self.check(#"{"a":{"dty\u0070e":"F16","shape":[2,3],"data_offsets":[0,12]}}"#)
        Self.check(#"{"a":{"dtype":"F\u003116","shape":[2,3],"data_offsets":[0,12]}}"#)
        Self.check(#"{"\u00e9t\u00e9":{"dtype":"F16","shape":[0],"data_offsets":[0,0]}}"#)
        Self.check(#"{"a":{"dtype":"F16","shape":[-0,3],"data_offsets":[0,0]}}"#)
        Self.check("{}")
    }

    @Test("every kind of bad entry gives the tree reader's error")
    func rejected() {
        let (a, b) = (Self.a, Self.b)
        let cases = [
            #"{"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12],"x":1}}"#,
            #"{"a":{"dtype":"F16","dtype":"F16","shape":[2,3],"data_offsets":[0,12]}}"#,
            #"{"a":{"dtype":"F16","shape":[2,3]}}"#,
            #"{"a":{"dtype":"X9","shape":[2,3],"data_offsets":[0,12]}}"#,
            #"{"a":{"dtype":7,"shape":[2,3],"data_offsets":[0,12]}}"#,
            #"{"a":{"dtype":"F16","shape":[2,3.0],"data_offsets":[0,12]}}"#,
            #"{"a":{"dtype":"F16","shape":[2,1e1],"data_offsets":[0,12]}}"#,
            #"{"a":{"dtype":"F16","shape":[2,-3],"data_offsets":[0,12]}}"#,
            #"{"a":{"dtype":"F16","shape":[02,3],"data_offsets":[0,12]}}"#,
            #"{"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12,14]}}"#,
            #"{"a":{"dtype":"F16","shape":[2,3],"data_offsets":[12,0]}}"#,
            #"{"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,13]}}"#,
            #"{"a":{"dtype":"F16","shape":[4294967296,4294967296],"data_offsets":[0,12]}}"#,
            #"{"a":{"dtype":"F16","shape":[18446744073709551615],"data_offsets":[0,12]}}"#,
            #"{"a":{"dtype":"F16","shape":[99999999999999999999],"data_offsets":[0,12]}}"#,
            #"{"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,9223372036854775808]}}"#,
            #"{"a":[1,2]}"#,
            #"{"__metadata__":{"format":7}}"#,
            #"{"__metadata__":[],"a":{}}"#,
            #"{"__metadata__":{},"__metadata__":{}}"#,
            "{\(a),\(a)}",
            // An invalid entry before a syntax error or a duplicate key: the syntax error or duplicate wins.
            #"{"a":{"dtype":"X9","shape":[2,3],"data_offsets":[0,12]},"b":{"#,
            #"{"a":{"dtype":"X9","shape":[2,3],"data_offsets":[0,12]},"b":1,"b":2}"#,
            // Two invalid entries: the first in file order wins.
            #"{"a":{"dtype":"X9","shape":[2,3],"data_offsets":[0,12]},"b":{"dtype":"F16"}}"#,
            "{\(a),\(b)} x",
            "[\(a)]",
            "\"abc\"",
            "{\"a\":" + String(repeating: "[", count: 80) + String(repeating: "]", count: 80) + "}",
            "{\"a\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]}",
            "{\"a\":{\"dtype\":\"F16\u{1}\",\"shape\":[2,3],\"data_offsets\":[0,12]}}",
        ]
        for text in cases { Self.check(text) }
    }

    @Test("thousands of damaged headers: same result or same error")
    func mutated() {
        let base = Array(("{" + #""__metadata__":{"format":"pt","note":"x"},"# + Self.a + "," + Self.b + ","
            + #""c.weight":{"dtype":"BF16","shape":[1,1,3,3],"data_offsets":[16,34]}}"#).utf8)
        let interesting: [UInt8] = Array("{}[]\":,-0123456789eE.tfn\\u ".utf8) + [0x01]
        var rng = HostileInputFuzzTests.SplitMix(state: 0x5AFE)
        for _ in 0..<4000 {
            var h = base
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let i = Int.random(in: 0..<h.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: h[i] = interesting.randomElement(using: &rng)!
                case 1: h.insert(interesting.randomElement(using: &rng)!, at: i)
                default: if h.count > 1 { h.remove(at: i) }
                }
            }
            let stream = Self.streamRead(h), tree = Self.treeRead(h)
            #expect(stream == tree, "\(String(decoding: h, as: UTF8.self))")
            if stream != tree { return }
        }
    }
}
