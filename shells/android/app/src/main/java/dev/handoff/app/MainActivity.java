package dev.handoff.app;

import com.getcapacitor.BridgeActivity;

public class MainActivity extends BridgeActivity {}
