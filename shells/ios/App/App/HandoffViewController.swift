import Capacitor
import UIKit

/// The app's web view (Main.storyboard): Capacitor's, with Handoff's own
/// plugins, which live in the app itself (docs/native-shells.md).
class HandoffViewController: CAPBridgeViewController {
    override func capacitorDidLoad() {
        bridge?.registerPluginInstance(HandoffDeviceKeyPlugin())
        bridge?.registerPluginInstance(HandoffBridgePlugin())
    }
}
