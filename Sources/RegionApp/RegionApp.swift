// RegionApp
