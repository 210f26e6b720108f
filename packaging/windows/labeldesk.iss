; Inno Setup script for the Windows installer (built by .github/workflows/installers.yml):
;   iscc /DAppVersion=0.2.0 packaging\windows\labeldesk.iss
; Installs the PyInstaller bundle (dist\labeldesk) per user or for all users, a Start menu entry,
; "Open with labeldesk" for .dcm and .nii files, and labeldesk-cli.exe for the command line.
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif

[Setup]
AppId={{6F1C3A52-8D0B-4C39-9E57-2B7A1D4C9E10}
AppName=labeldesk
AppVersion={#AppVersion}
AppVerName=labeldesk {#AppVersion}
AppPublisher=labeldesk
DefaultDirName={autopf}\labeldesk
DefaultGroupName=labeldesk
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=labeldesk-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\labeldesk.exe
ChangesAssociations=yes
LicenseFile=..\..\LICENSE

[Files]
Source: "..\..\dist\labeldesk\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\labeldesk"; Filename: "{app}\labeldesk.exe"
Name: "{userdesktop}\labeldesk"; Filename: "{app}\labeldesk.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Registry]
Root: HKA; Subkey: "Software\Classes\labeldesk.file"; ValueType: string; ValueData: "Image for labeldesk"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\labeldesk.file\DefaultIcon"; ValueType: string; ValueData: "{app}\labeldesk.exe,0"
Root: HKA; Subkey: "Software\Classes\labeldesk.file\shell\open\command"; ValueType: string; ValueData: """{app}\labeldesk.exe"" open ""%1"""
Root: HKA; Subkey: "Software\Classes\.dcm\OpenWithProgids"; ValueType: string; ValueName: "labeldesk.file"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.nii\OpenWithProgids"; ValueType: string; ValueName: "labeldesk.file"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\Directory\shell\labeldesk"; ValueType: string; ValueData: "Open with labeldesk"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Directory\shell\labeldesk\command"; ValueType: string; ValueData: """{app}\labeldesk.exe"" open ""%1"""

[Run]
Filename: "{app}\labeldesk.exe"; Description: "Start labeldesk"; Flags: nowait postinstall skipifsilent
