// swift-tools-version:5.9
import PackageDescription

// Release builds produce a self-contained liblstmkit.so: the Swift runtime is linked in
// statically and a version script keeps the exports to the C API in include/lstmkit.h.
// Debug builds (swift test) skip both, because -static-stdlib breaks linking the test bundle.
let releaseLinker: [LinkerSetting] = [
    .unsafeFlags(["-static-stdlib",
                  "-Xlinker", "--version-script=Sources/LSTMKit/exports.map"],
                 .when(configuration: .release)),
]

let package = Package(
    name: "lstmkit",
    products: [
        .library(name: "lstmkit", type: .dynamic, targets: ["LSTMKit"]),
    ],
    targets: [
        // CPU feature checks and the SSE control register; OpenBLAS itself is opened at run time
        // (Support/BLAS.swift says why).
        .systemLibrary(name: "CPlatform", path: "Sources/CPlatform"),
        // The public header, imported into Swift so the C structs have one definition.
        .systemLibrary(name: "CLSTMKitABI", path: "Sources/CLSTMKitABI"),
        // The elementwise kernels of the recurrent cells, compiled per instruction set with runtime
        // dispatch (target_clones), which Swift cannot do for its SIMD types.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(
            name: "LSTMKit",
            dependencies: ["CPlatform", "CLSTMKitABI", "CKernels"],
            exclude: ["exports.map"],
            swiftSettings: [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))],
            linkerSettings: releaseLinker + [.linkedLibrary("m"), .linkedLibrary("dl")]
        ),
        .testTarget(name: "LSTMKitTests", dependencies: ["LSTMKit"]),
    ]
)
