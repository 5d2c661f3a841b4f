import Glibc

/// Seeded generator (xoshiro256**) so initialisation, shuffling and dropout are reproducible from
/// one integer and identical on every platform.
struct Rng {
    private var s: (UInt64, UInt64, UInt64, UInt64)
    /// Set for building layers whose weights are replaced right after (loading a file, a worker
    /// thread's copy): the initializers then return zeros without drawing or computing (Keras's
    /// orthogonal initializer is cubic in the units, and a load replaces what it draws).
    var weightsDiscarded = false

    init(seed: UInt64) {
        // SplitMix64 spreads any seed (even 0) over the whole state.
        var z = seed
        func next() -> UInt64 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return x ^ (x >> 31)
        }
        s = (next(), next(), next(), next())
    }

    /// A seed for stream `index` of `seed` (one SplitMix64 step of a mix of both), so each
    /// epoch of a fit gets its own generator whatever happened in the epochs before.
    static func derive(_ seed: UInt64, _ index: Int64) -> UInt64 {
        var x = seed ^ (UInt64(bitPattern: index) &+ 1) &* 0xD1B5_4A32_D192_ED03
        x &+= 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }

    @inline(__always)
    mutating func nextUInt64() -> UInt64 {
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    @inline(__always)
    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1) with 24 random bits, the precision of a Float.
    @inline(__always)
    mutating func uniform() -> Float { Float(nextUInt64() >> 40) * (1.0 / 16_777_216.0) }

    mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * uniform() }

    /// Standard normal via Box-Muller (in Double, then rounded).
    mutating func normal() -> Float {
        var u1 = Double(nextUInt64() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        if u1 < 1e-300 { u1 = 1e-300 }
        let u2 = Double(nextUInt64() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Uniform integer in 0..<n (n > 0), without modulo bias.
    mutating func below(_ n: Int) -> Int {
        let bound = UInt64(n)
        let threshold = (0 &- bound) % bound
        while true {
            let r = nextUInt64()
            if r >= threshold { return Int(r % bound) }
        }
    }

    mutating func shuffle(_ a: inout [Int]) {
        if a.count < 2 { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            a.swapAt(i, below(i + 1))
        }
    }
}
