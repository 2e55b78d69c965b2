"""Make the tiny datasets (default: under data/tiny); formats and options: mmdenoiserep/testing/tiny_data.py."""
from mmdenoiserep.testing.tiny_data import main

if __name__ == '__main__':
    main()
