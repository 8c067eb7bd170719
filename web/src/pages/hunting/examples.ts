// Example hunts: queries from the public MDE hunting-query corpus (microsoft/Microsoft-365-Defender-
// Hunting-Queries, MIT licence), kept only where they run on Ward's engine as written (each was run
// against a dev server). Only the query text is stored; results always come from the server.
export interface Example {
  name: string;
  source: string;
  query: string;
}

export const examples: Example[] = [
  {
    "name": "Latest check-in of each device",
    "source": "microsoft/Microsoft-365-Defender-Hunting-Queries: Webcasts/TrackingTheAdversary/Episode 3 - Summarizing, Pivoting, and Joining.txt",
    "query": "DeviceInfo\n| where isnotempty(OSPlatform) // checkins can be partial or full - this filters out partials\n| summarize arg_max(Timestamp, *) by DeviceId\n"
  },
  {
    "name": "Distinct remote IPs and URLs",
    "source": "microsoft/Microsoft-365-Defender-Hunting-Queries: Webcasts/TrackingTheAdversary/Episode 1 - KQL Fundamentals.txt",
    "query": "DeviceNetworkEvents\n| take 1000\n| distinct RemoteIP, RemoteUrl\n"
  },
  {
    "name": "Process events per hash partition",
    "source": "microsoft/Microsoft-365-Defender-Hunting-Queries: Webcasts/l33tSpeak/l33tspeak 11 Oct 2021 - externaldata and query partitioning.csl",
    "query": "DeviceProcessEvents \n| extend PartitionNumber = hash(DeviceId,20)\n| summarize count() by PartitionNumber\n"
  },
  {
    "name": "Firewall policy design assistant",
    "source": "microsoft/Microsoft-365-Defender-Hunting-Queries: General queries/Firewall Policy Design Assistant.md",
    "query": "let EphemeralRangeStart = 49152;\nlet IncludeInboundRemoteIPs = false;\nlet AliasPath = (SourcePath:(FolderPath:string, FileName:string))\n{\nSourcePath\n    | extend AliasPath = tolower(\n            case(\n                //Modern style profile\n                FolderPath startswith 'c:\\\\users\\\\', strcat('%UserProfile%', substring(FolderPath, indexof(FolderPath,'\\\\',11), strlen(FolderPath) - 11)),\n                //Legacy style profile\n                FolderPath startswith 'c:\\\\documents and settings\\\\', strcat('%UserProfile%', substring(FolderPath, indexof(FolderPath,'\\\\',27), strlen(FolderPath) - 27)),\n                //Windir\n                FolderPath contains @':\\Windows\\', strcat('%windir%', substring(FolderPath, 10)),\n                //ProgramData\n                FolderPath contains @':\\programdata\\', strcat('%programdata%', substring(FolderPath, 14)),\n                // ProgramFiles\n                FolderPath contains @':\\Program Files\\', strcat('%ProgramFiles%', substring(FolderPath, 16)),\n                // Program Files (x86)\n                FolderPath contains @':\\Program Files (x86)\\', strcat('%ProgramFilesx86%', substring(FolderPath, 22)),\n                //Other\n               FolderPath)\n        )\n};\nlet ServerConnections =\n    DeviceNetworkEvents\n    | where ActionType in ('InboundConnectionAccepted','ListeningConnectionCreated')\n        and RemoteIPType != 'Loopback' \n        and LocalIP != RemoteIP \n        and RemoteIP !startswith '169.254' \n        and LocalPort < EphemeralRangeStart\n    | distinct DeviceId, InitiatingProcessFolderPath, LocalPort;\nunion (\n    DeviceNetworkEvents\n    | where ActionType in ('InboundConnectionAccepted','ListeningConnectionCreated','ConnectionSuccess','ConnecitonFound','ConnectionRequest')\n        and RemoteIPType != 'Loopback' \n        and LocalIP != RemoteIP \n        and RemoteIP !startswith '169.254' \n        and LocalPort < EphemeralRangeStart\n    | join kind=leftsemi ServerConnections on DeviceId, InitiatingProcessFolderPath, LocalPort\n    | project-rename FolderPath = InitiatingProcessFolderPath, FileName = InitiatingProcessFileName\n    | invoke AliasPath()\n    | extend Directionality = 'Inbound', Port = LocalPort, RemoteIP = iff(IncludeInboundRemoteIPs == true, RemoteIP,'')\n),(\n    DeviceNetworkEvents\n    | where ActionType in ('ConnectionSuccess','ConnecitonFound','ConnectionRequest') \n        and RemoteIPType != 'Loopback' \n        and LocalIP != RemoteIP \n        and RemoteIP !startswith '169.254' \n        and LocalPort >= EphemeralRangeStart\n    | join kind=leftanti ServerConnections on DeviceId, InitiatingProcessFolderPath, LocalPort\n    | project-rename FolderPath = InitiatingProcessFolderPath, FileName = InitiatingProcessFileName\n    | invoke AliasPath()\n    | extend Directionality = 'Outbound', Port = RemotePort\n)\n| summarize ConnectionCount = count(), DistinctMachines = dcount(DeviceId), Ports = makeset(Port), RemoteIPs = makeset(RemoteIP) by Directionality, AliasPath\n"
  },
  {
    "name": "APT Sofacy Zebrocy reconnaissance",
    "source": "microsoft/Microsoft-365-Defender-Hunting-Queries: Campaigns/apt sofacy zebrocy.txt",
    "query": "// Original Sigma Rule: https://github.com/Neo23x0/sigma/blob/master/rules/apt/apt_sofacy_zebrocy.yml\n// Questions via Twitter: @janvonkirchheim\nDeviceProcessEvents\n| where Timestamp > ago(7d)\n| where ProcessCommandLine endswith \"cmd.exe /c SYSTEMINFO & TASKLIST\"\n| top 100 by Timestamp desc\n"
  },
  {
    "name": "Bazacall: renamed rclone exfiltration",
    "source": "microsoft/Microsoft-365-Defender-Hunting-Queries: Campaigns/Bazacall/Renamed Rclone Exfil.md",
    "query": "DeviceProcessEvents \n| where ProcessVersionInfoProductName has \"rclone\" and not(FileName has \"rclone\")\n"
  },
  {
    "name": "LemonDuck: Defender exclusions",
    "source": "microsoft/Microsoft-365-Defender-Hunting-Queries: Campaigns/LemonDuck/LemonDuck-defender-exclusions.md",
    "query": "DeviceProcessEvents  \n| where InitiatingProcessCommandLine has_all (\"Set-MpPreference\", \"DisableRealtimeMonitoring\", \"Add-MpPreference\", \"ExclusionProcess\")  \n| project ProcessCommandLine, InitiatingProcessCommandLine, DeviceId, Timestamp\n"
  }
];
